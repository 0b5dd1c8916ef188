"""The ERP message contract as documents, generated from the JSON Schemas in `erp_sync/schemas/`.

- `build_document()` → the AsyncAPI 3.0 document of the ERP channel (`docs/asyncapi.yaml`): the
  pull, webhook and push transports, one message per type with the envelope and the type's schema.
- `render_section(name)` → the generated Markdown parts of `docs/erp-integration.md` (the envelope
  table and one table per message type), between `<!-- generated:<name>:start -->` and
  `<!-- generated:<name>:end -->`.

`manage.py erp_asyncapi` writes both; `tests/erp_sync/test_asyncapi.py` fails when a committed copy
differs from what this module produces. The schemas stay the single source: their `description`
keywords are the prose, their keywords the constraints.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from erp_sync import envelope

REPO_DIR = Path(__file__).resolve().parent.parent
ASYNCAPI_PATH = REPO_DIR / "docs" / "asyncapi.yaml"
GUIDE_PATH = REPO_DIR / "docs" / "erp-integration.md"
REGENERATE = "python manage.py erp_asyncapi"

INBOUND, OUTBOUND = "inbound", "outbound"
NOT_ZERO = "^0*(\\.0*)?$"


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((envelope.SCHEMA_DIR / f"{name}.json").read_text())


def inbound_types() -> list[str]:
    return list(envelope.INBOUND_ORDER)


def outbound_types() -> list[str]:
    return list(envelope.OUTBOUND_ORDER)


def message_types() -> list[tuple[str, str]]:
    """(type, direction) of every message type, inbound first."""
    return [(t, INBOUND) for t in inbound_types()] + [(t, OUTBOUND) for t in outbound_types()]


def inbound_entity_types() -> dict[str, list[str]]:
    """The `entity.type` values each inbound type accepts (what the inbox checks before applying)."""
    from erp_sync.handlers import ENTITY_TYPES

    return {name: sorted(types) for name, types in ENTITY_TYPES.items()}


def summary(text: str) -> str:
    """The first sentence of a description (a full stop inside backticks does not end it)."""
    ticks = 0
    for index, char in enumerate(text):
        if char == "`":
            ticks += 1
        elif char == "." and ticks % 2 == 0 and (index + 1 == len(text) or text[index + 1] == " "):
            return text[: index + 1]
    return text


# --- AsyncAPI ---------------------------------------------------------------------------------------

INFO_DESCRIPTION = """\
Messages between the OMS and its ERPs, in both directions. Every message is an envelope
(`components/schemas/envelope`) whose `data` has the schema of its type. Messages travel in batches,
`{"messages": [envelope, ...]}`, over one of three transports:

- **pull** — the OMS polls the ERP's `GET {base}/messages?after=<cursor>&limit=<n>`;
- **webhook** — the ERP pushes to the OMS's `POST /api/v1/erp/{system}/messages/`;
- **push** — the OMS delivers its own messages to the ERP's `POST {base}/messages`.

Legacy ERPs exchange the same batches as JSON files (`file_drop`). Ids deduplicate, versions order
inbound changes per entity, and outbound messages of one aggregate are delivered strictly in sequence.
The guide `docs/erp-integration.md` explains the rules; this document is generated from the JSON
Schemas in `erp_sync/schemas/` by `python manage.py erp_asyncapi`."""

PULL_DESCRIPTION = """\
The OMS pulls inbound messages from the ERP every poll interval: `GET {base}/messages?limit=<n>`,
then `&after=<cursor>` with the `next` cursor of the previous page. Answer
`{"messages": [envelope, ...], "next": "<cursor>"}`; the cursor is opaque, and an empty page echoes
the cursor it was given. The OMS stores `next` only in the transaction that stores the page's
messages in its inbox. A GET signs the empty body."""

WEBHOOK_DESCRIPTION = """\
The ERP pushes inbound messages to the OMS: body `{"messages": [envelope, ...]}` (at most 32 MB by
default, `OMS_ERP_WEBHOOK_MAX_BYTES`; larger is 413), header `X-OMS-Signature` and, recommended,
`X-OMS-Timestamp` (Unix seconds, signed with the body; refused outside 300 s of the OMS clock).
Answer 202 `{"results": [{"id", "status": "accepted|duplicate|rejected", "error"?}]}`, one result
per message in order. `accepted` means stored in the inbox; it is applied asynchronously. A bad or
missing signature or timestamp, or an unknown or disabled system, is answered 401 and nothing is
stored."""

PUSH_DESCRIPTION = """\
The OMS delivers its outbound messages: `POST {base}/messages` with `{"messages": [envelope, ...]}`.
Answer `{"results": [{"id", "status": "accepted|duplicate|rejected", "error"?}]}`. `accepted` and
`duplicate` count as delivered; `rejected` parks the message (dead) until an operator replays it.
Per aggregate (entity type and key) message n+1 is sent only after n was delivered."""


def _message(name: str, direction: str, entity_types: dict[str, list[str]]) -> dict[str, Any]:
    schema = load_schema(name)
    description = schema.get("description", "")
    envelope_part: dict[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": name},
            "data": {"$ref": f"#/components/schemas/{name}"},
        },
    }
    if direction == INBOUND:
        accepted = entity_types.get(name, [])
        envelope_part["properties"]["entity"] = {
            "type": "object",
            "properties": {"type": {"enum": accepted}},
        }
        description += " Accepted `entity.type`: " + ", ".join(f"`{t}`" for t in accepted) + "."
    return {
        "name": name,
        "title": name,
        "summary": summary(schema.get("description", "")),
        "description": description,
        "contentType": "application/json",
        "payload": {"allOf": [{"$ref": "#/components/schemas/envelope"}, envelope_part]},
        "x-direction": direction,
    }


def _schema_component(name: str) -> dict[str, Any]:
    """A JSON Schema as an AsyncAPI schema object (draft-07 compatible: only `$schema` goes)."""
    schema = copy.deepcopy(load_schema(name))
    schema.pop("$schema", None)
    return schema


def _channel_messages(types: list[str]) -> dict[str, Any]:
    return {t: {"$ref": f"#/components/messages/{t}"} for t in types}


def _operation_messages(channel: str, types: list[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{t}"} for t in types]


def _http(method: str) -> dict[str, Any]:
    return {"http": {"method": method, "bindingVersion": "0.3.0"}}


def build_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the ERP channel, as a plain dict (stable key order)."""
    inbound, outbound = inbound_types(), outbound_types()
    entity_types = inbound_entity_types()
    signature = {"$ref": "#/components/securitySchemes/omsSignature"}
    bearer = {"$ref": "#/components/securitySchemes/erpBearer"}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "OMS ERP messages",
            "version": "1.0.0",
            "description": INFO_DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {
            "oms": {
                "host": "oms.example",
                "protocol": "https",
                "title": "The OMS",
                "description": "The OMS site (`OMS_SITE_URL`); ERPs push inbound messages to its webhook.",
            },
            "erp": {
                "host": "erp.example",
                "protocol": "https",
                "title": "An ERP speaking http_json",
                "description": (
                    "The ERP's endpoint under the base URL configured with `oms_erp_system CODE "
                    "--adapter http_json --base-url URL`; `{base}/messages` serves pull and push."
                ),
            },
        },
        "channels": {
            "erpPull": {
                "address": "/messages",
                "title": "Pull from the ERP",
                "description": PULL_DESCRIPTION,
                "servers": [{"$ref": "#/servers/erp"}],
                "messages": _channel_messages(inbound),
            },
            "omsWebhook": {
                "address": "/api/v1/erp/{system}/messages/",
                "title": "Push webhook of the OMS",
                "description": WEBHOOK_DESCRIPTION,
                "servers": [{"$ref": "#/servers/oms"}],
                "parameters": {"system": {"description": "The ERP system's code in the OMS."}},
                "messages": _channel_messages(inbound),
            },
            "erpPush": {
                "address": "/messages",
                "title": "Push to the ERP",
                "description": PUSH_DESCRIPTION,
                "servers": [{"$ref": "#/servers/erp"}],
                "messages": _channel_messages(outbound),
            },
        },
        "operations": {
            "pullInbound": {
                "action": "receive",
                "channel": {"$ref": "#/channels/erpPull"},
                "title": "Pull inbound messages",
                "summary": "The OMS reads pages of messages from the ERP (GET, cursor paging).",
                "security": [bearer, signature],
                "bindings": _http("GET"),
                "messages": _operation_messages("erpPull", inbound),
            },
            "receiveWebhook": {
                "action": "receive",
                "channel": {"$ref": "#/channels/omsWebhook"},
                "title": "Receive pushed inbound messages",
                "summary": "The ERP posts signed batches to the OMS (answered 202 with a result each).",
                "security": [signature],
                "bindings": _http("POST"),
                "messages": _operation_messages("omsWebhook", inbound),
            },
            "pushOutbound": {
                "action": "send",
                "channel": {"$ref": "#/channels/erpPush"},
                "title": "Push outbound messages",
                "summary": "The OMS posts batches of its messages to the ERP (in sequence per aggregate).",
                "security": [bearer, signature],
                "bindings": _http("POST"),
                "messages": _operation_messages("erpPush", outbound),
            },
        },
        "components": {
            "schemas": {
                "envelope": _schema_component("envelope"),
                **{t: _schema_component(t) for t in inbound + outbound},
            },
            "messages": {t: _message(t, d, entity_types) for t, d in message_types()},
            "securitySchemes": {
                "omsSignature": {
                    "type": "httpApiKey",
                    "name": "X-OMS-Signature",
                    "in": "header",
                    "description": (
                        "`sha256=<lowercase hex HMAC-SHA256 of the raw body>`, keyed with the UTF-8 "
                        "bytes of the ERP system's secret. Sent on every request in both directions; "
                        "a GET signs the empty body. On the push webhook an ERP may add "
                        "`X-OMS-Timestamp: <Unix seconds>`; the signed string is then "
                        "`<timestamp>.<raw body>`."
                    ),
                },
                "erpBearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <token>` of the ERP system, sent by the OMS.",
                },
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks (`|`), readable in the committed YAML."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(document: dict[str, Any]) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


# --- Markdown ---------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_of(node: dict[str, Any]) -> str:
    if "anyOf" in node:
        names: list[str] = []
        for branch in node["anyOf"]:
            for name in _type_of(branch).split(" or "):
                if name not in names:
                    names.append(name)
        return " or ".join(names)
    if "const" in node:
        return "string"
    if "enum" in node:
        kinds = ["string" if v is not None else "null" for v in node["enum"]]
        return " or ".join(dict.fromkeys(kinds))
    kinds = node.get("type")
    if kinds is None:
        return "any"
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = []
    for kind in kinds:
        if kind == "array" and "items" in node:
            item = _type_of(node["items"])
            names.append(f"array of {item}s" if " " not in item else "array")
        else:
            names.append(kind)
    return " or ".join(names)


def _constraints(node: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for branch in node.get("anyOf", []):
        out += _constraints(branch)
    if "enum" in node:
        out.append("One of " + ", ".join(f"`{v}`" if v is not None else "null" for v in node["enum"]) + ".")
    low, high = node.get("minLength"), node.get("maxLength")
    if low and high:
        out.append(f"{low}–{high} characters.")
    elif high:
        out.append(f"At most {high} characters.")
    if "pattern" in node:
        out.append(f"Pattern `{node['pattern']}`.")
    if node.get("not", {}).get("pattern") == NOT_ZERO:
        out.append("Above 0.")
    elif "not" in node:
        out.append(f"Must not match `{json.dumps(node['not'])}`.")
    if "minimum" in node and "maximum" in node:
        out.append(f"From {node['minimum']} to {node['maximum']}.")
    elif "minimum" in node:
        out.append(f"At least {node['minimum']}.")
    low, high = node.get("minItems"), node.get("maxItems")
    if low and high:
        out.append(f"{low}–{high} items.")
    elif low:
        out.append(f"At least {low} item{'s' if low > 1 else ''}.")
    if "format" in node:
        out.append(f"Format {node['format']}.")
    if isinstance(node.get("additionalProperties"), dict):
        out.append(f"Values: {_type_of(node['additionalProperties'])}.")
    return out


def _object_branch(node: dict[str, Any]) -> dict[str, Any] | None:
    if "properties" in node:
        return node
    for branch in node.get("anyOf", []):
        if "properties" in branch:
            return branch
    return None


def _rows(node: dict[str, Any], prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    obj = _object_branch(node)
    if obj is not None:
        required = set(obj.get("required", []))
        for name, child in obj["properties"].items():
            path = f"{prefix}{name}"
            text = " ".join([child.get("description", ""), *_constraints(child)]).strip()
            rows.append((path, _type_of(child), "yes" if name in required else "no", text))
            rows += _rows(child, f"{path}.")
    items = node.get("items")
    if isinstance(items, dict):
        rows += _rows(items, f"{prefix[:-1]}[].")
    return rows


def field_table(node: dict[str, Any]) -> str:
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    for path, type_, required, text in _rows(node):
        lines.append(f"| `{path}` | {_cell(type_)} | {required} | {_cell(text)} |")
    return "\n".join(lines)


def _anchor(name: str) -> str:
    return name.replace(".", "")


def render_envelope() -> str:
    schema = load_schema("envelope")
    return field_table(schema)


def render_messages() -> str:
    entity_types = inbound_entity_types()
    out = [
        "| type | direction | summary |",
        "|---|---|---|",
    ]
    for name, direction in message_types():
        arrow = "ERP → OMS" if direction == INBOUND else "OMS → ERP"
        text = summary(load_schema(name).get("description", ""))
        out.append(f"| [`{name}`](#{_anchor(name)}) | {arrow} | {_cell(text)} |")
    for title, direction in (("Inbound: ERP → OMS", INBOUND), ("Outbound: OMS → ERP", OUTBOUND)):
        out += ["", f"### {title}"]
        for name, kind in message_types():
            if kind != direction:
                continue
            schema = load_schema(name)
            out += ["", f"#### `{name}`", "", schema.get("description", "")]
            if direction == INBOUND:
                accepted = ", ".join(f"`{t}`" for t in entity_types.get(name, []))
                out += ["", f"Accepted `entity.type`: {accepted}."]
            out += ["", field_table(schema)]
    return "\n".join(out)


SECTIONS: dict[str, Callable[[], str]] = {
    "envelope": render_envelope,
    "messages": render_messages,
}


def start_marker(name: str) -> str:
    return f"<!-- generated:{name}:start — {REGENERATE} rewrites this part -->"


def end_marker(name: str) -> str:
    return f"<!-- generated:{name}:end -->"


def render_section(name: str) -> str:
    return SECTIONS[name]()


def rewrite_guide(text: str) -> str:
    """`text` with every generated section replaced by what the schemas produce now."""
    for name, render in SECTIONS.items():
        start, end = start_marker(name), end_marker(name)
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"the guide has no {start!r} … {end!r} section")
        replacement = f"{start}\n\n{render()}\n\n{end}"
        text = pattern.sub(lambda _match, replacement=replacement: replacement, text, count=1)
    return text
