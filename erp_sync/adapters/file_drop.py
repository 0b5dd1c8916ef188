"""Legacy ERPs that exchange files: a directory with `inbox/` (ERP → OMS) and `outbox/` (OMS → ERP).

Pickup is an atomic rename `inbox/x.json → work/x.json`, so two workers never take the same file;
once its messages are committed to the inbox the file moves to `done/`. A file that is not JSON
moves to `error/` next to `x.json.error` saying why. A crash between pickup and `done/` leaves the
file in `work/`, where the next pull takes it again after a grace period (ids dedupe it).
Outbound batches are written as `outbox/<time>-<uuid>.json` through a temporary file and a rename.
Asking the ERP for its view of orders (`order_states`, the reconciliation's comparison) needs a request
and an answer, which files cannot carry: the base adapter's `Unsupported` stands.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from erp_sync.adapters.base import Adapter, PullPage, SendResult, TransportError
from erp_sync.envelope import parse_bytes

WORK_GRACE_SECONDS = 300


def drop_dir(base_url: str) -> Path:
    return Path(base_url.removeprefix("file://"))


class FileDropAdapter(Adapter):
    def __init__(self, system):
        super().__init__(system)
        self.root = drop_dir(system.base_url)

    def _dirs(self) -> dict[str, Path]:
        dirs = {name: self.root / name for name in ("inbox", "work", "done", "error", "outbox")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        return dirs

    def send(self, envelopes: list[dict[str, Any]]) -> SendResult:
        try:
            outbox = self._dirs()["outbox"]
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex}.json"
            tmp = outbox / f".{name}.tmp"
            tmp.write_text(json.dumps({"messages": envelopes}, ensure_ascii=False), encoding="utf-8")
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, outbox / name)
        except OSError as exc:
            return SendResult(kind="transient", error=f"file drop: {exc}"[:500])
        return SendResult(
            kind="results", results={e["id"]: {"status": "accepted", "error": ""} for e in envelopes}
        )

    def pull(self, cursor: str, limit: int) -> PullPage:
        try:
            dirs = self._dirs()
            stale = [
                p
                for p in sorted(dirs["work"].glob("*.json"))
                if time.time() - p.stat().st_mtime > WORK_GRACE_SECONDS
            ]
            taken: list[Path] = []
            for path in stale:
                os.utime(path)
                taken.append(path)
            for path in sorted(dirs["inbox"].glob("*.json")):
                if len(taken) >= limit:
                    break
                target = dirs["work"] / path.name
                try:
                    os.rename(path, target)
                except FileNotFoundError:
                    continue  # another worker took it
                taken.append(target)
        except OSError as exc:
            raise TransportError(f"file drop: {exc}"[:500]) from exc

        messages: list[Any] = []
        unusable: list[tuple[str, str]] = []
        good: list[Path] = []
        for path in taken:
            body = path.read_bytes()
            value, error = parse_bytes(body)
            if error:
                (dirs["error"] / f"{path.name}.error").write_text(error + "\n", encoding="utf-8")
                os.replace(path, dirs["error"] / path.name)
                unusable.append((body.decode("utf-8", "replace"), f"{path.name}: {error}"))
                continue
            if isinstance(value, dict) and isinstance(value.get("messages"), list):
                messages.extend(value["messages"])
            else:
                messages.append(value)
            good.append(path)

        def on_stored() -> None:
            for path in good:
                os.replace(path, dirs["done"] / path.name)

        return PullPage(messages=messages, next_cursor=None, unusable=unusable, on_stored=on_stored)
