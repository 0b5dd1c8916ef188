"""The embedded broker never hands a worker a half-written message."""

from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection
from kombu.utils.json import dumps

import oms.lib.fsbroker


@pytest.fixture
def channel(tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection(
        "filesystem://", transport="oms.lib.fsbroker:Transport", transport_options=options
    ) as conn:
        yield conn.default_channel


def test_a_message_being_written_is_invisible_to_readers(channel, monkeypatch):
    seen_while_writing = []

    def dumps_and_look(payload):
        # The moment between creating the file and writing it: what does a reader get?
        try:
            seen_while_writing.append(channel._get("default"))
        except Empty:
            seen_while_writing.append("empty")
        return dumps(payload)

    monkeypatch.setattr(oms.lib.fsbroker, "dumps", dumps_and_look)

    channel._put("default", {"body": "nudge"})

    assert seen_while_writing == ["empty"]
    assert [p.name.split(".", 1)[1] for p in Path(channel.data_folder_out).iterdir()] == ["default.msg"]
    assert channel._get("default") == {"body": "nudge"}
    with pytest.raises(Empty):
        channel._get("default")
