"""The ERP contract documents are generated artefacts: `docs/asyncapi.yaml` and the generated parts
of `docs/erp-integration.md` must equal what `erp_sync.asyncapi` builds from `erp_sync/schemas/`."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from erp_sync import asyncapi
from erp_sync import envelope as env
from erp_sync.signing import sign

STALE = f"is stale: run `{asyncapi.REGENERATE}`"


def committed_document() -> dict:
    return yaml.safe_load(asyncapi.ASYNCAPI_PATH.read_text(encoding="utf-8"))


def schema_names() -> set[str]:
    return {path.stem for path in env.SCHEMA_DIR.glob("*.json")}


def test_asyncapi_yaml_equals_the_generated_document():
    generated = asyncapi.dump_yaml(asyncapi.build_document())

    assert asyncapi.ASYNCAPI_PATH.read_text(encoding="utf-8") == generated, f"docs/asyncapi.yaml {STALE}"


def test_generated_sections_of_the_guide_equal_the_generated_tables():
    guide = asyncapi.GUIDE_PATH.read_text(encoding="utf-8")

    assert asyncapi.rewrite_guide(guide) == guide, f"docs/erp-integration.md {STALE}"
    for name in asyncapi.SECTIONS:
        assert guide.count(asyncapi.start_marker(name)) == 1
        assert guide.count(asyncapi.end_marker(name)) == 1


def test_every_schema_is_a_component_with_its_content():
    schemas = committed_document()["components"]["schemas"]

    assert set(schemas) == schema_names()
    for name in schema_names():
        expected = asyncapi.load_schema(name)
        expected.pop("$schema")
        assert schemas[name] == expected, name


def test_inbound_types_are_received_and_outbound_types_sent():
    document = committed_document()
    by_action: dict[str, set[str]] = {"receive": set(), "send": set()}
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        for ref in operation["messages"]:
            prefix = f"#/channels/{channel}/messages/"
            assert ref["$ref"].startswith(prefix), ref
            name = ref["$ref"].removeprefix(prefix)
            assert name in document["channels"][channel]["messages"]
            by_action[operation["action"]].add(name)
    messages = document["components"]["messages"]

    assert by_action["receive"] == env.INBOUND_TYPES
    assert by_action["send"] == env.OUTBOUND_TYPES
    assert env.INBOUND_TYPES | env.OUTBOUND_TYPES | {"envelope"} == schema_names()
    assert set(messages) == env.INBOUND_TYPES | env.OUTBOUND_TYPES
    for name, message in messages.items():
        direction = "inbound" if name in env.INBOUND_TYPES else "outbound"
        envelope_ref, part = message["payload"]["allOf"]
        assert message["x-direction"] == direction, name
        assert envelope_ref == {"$ref": "#/components/schemas/envelope"}
        assert part["properties"]["type"] == {"const": name}
        assert part["properties"]["data"] == {"$ref": f"#/components/schemas/{name}"}


def test_inbound_messages_name_the_entity_types_the_inbox_accepts():
    from erp_sync.handlers import ENTITY_TYPES

    messages = committed_document()["components"]["messages"]

    for name in env.INBOUND_TYPES:
        accepted = messages[name]["payload"]["allOf"][1]["properties"]["entity"]["properties"]["type"]
        assert accepted == {"enum": sorted(ENTITY_TYPES[name])}, name


def test_the_guide_has_a_table_for_every_type_under_its_direction():
    guide = asyncapi.GUIDE_PATH.read_text(encoding="utf-8")
    inbound, outbound = guide.split("### Outbound: OMS → ERP")
    inbound = inbound.split("### Inbound: ERP → OMS")[1]

    for name in env.INBOUND_TYPES:
        assert f"#### `{name}`\n" in inbound and f"#### `{name}`\n" not in outbound, name
    for name in env.OUTBOUND_TYPES:
        assert f"#### `{name}`\n" in outbound and f"#### `{name}`\n" not in inbound, name


def _fields(node: dict, path: str = ""):
    branches = [node, *[b for b in node.get("anyOf", []) if "properties" in b]]
    for branch in branches:
        for name, child in branch.get("properties", {}).items():
            yield f"{path}{name}", child
            yield from _fields(child, f"{path}{name}.")
    if isinstance(node.get("items"), dict):
        yield from _fields(node["items"], f"{path[:-1]}[].")


@pytest.mark.parametrize("name", sorted(schema_names()))
def test_every_type_and_field_is_described(name):
    schema = asyncapi.load_schema(name)

    assert schema.get("description"), name
    assert [path for path, child in _fields(schema) if not child.get("description")] == []


def test_the_signature_example_of_the_guide_is_right():
    guide = asyncapi.GUIDE_PATH.read_text(encoding="utf-8")
    secret, body = re.search(r'secret = "([^"]+)"\nbody = b\'([^\']+)\'', guide).groups()
    printed = re.search(r"prints\n\n```\n(sha256=[0-9a-f]{64})\n```", guide).group(1)
    empty = re.search(r"empty body \(a pull\) with the same secret is\n`(sha256=[0-9a-f]{64})`", guide).group(
        1
    )
    shown = re.search(r"Worked example\. .*?```json\n(.+?)\n```", guide, re.DOTALL).group(1)

    stamp, stamped = re.search(
        r"With the timestamp (\d+) .*? signs as\n`(sha256=[0-9a-f]{64})`", guide, re.DOTALL
    ).groups()

    assert sign(secret, body.encode()) == printed
    assert sign(secret, b"") == empty
    assert sign(secret, body.encode(), stamp) == stamped
    assert shown == body
    assert f"body ({len(body.encode())} bytes" in guide
    assert env.validate_inbound(json.loads(body)["messages"][0]) == ""


def test_the_command_writes_the_committed_files_and_checks_them(tmp_path):
    guide = tmp_path / "guide.md"
    output = tmp_path / "asyncapi.yaml"
    stale = asyncapi.GUIDE_PATH.read_text(encoding="utf-8").replace("| `sequence` |", "| `seq` |")
    guide.write_text(stale, encoding="utf-8")

    with pytest.raises(CommandError, match="not up to date"):
        call_command("erp_asyncapi", "--output", str(output), "--guide", str(guide), "--check")
    call_command("erp_asyncapi", "--output", str(output), "--guide", str(guide))

    assert output.read_text(encoding="utf-8") == asyncapi.ASYNCAPI_PATH.read_text(encoding="utf-8")
    assert guide.read_text(encoding="utf-8") == asyncapi.GUIDE_PATH.read_text(encoding="utf-8")
    call_command("erp_asyncapi", "--output", str(output), "--guide", str(guide), "--check")
