"""The embedded broker of `make run`: kombu's file-system transport, with messages written atomically.

kombu's transport creates a message file and then writes it; a worker listing the folder in between
moves the empty file away, fails to decode it and stops (`Unrecoverable error: JSONDecodeError`). Here
a message is written under a name no reader picks up (`….msg.part`) and renamed into place, so a
reader sees either no file or the whole message.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: write `<name>.part`, then rename it to `<name>`."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # readers match `<queue>.msg` after the first dot: never this one
        try:
            with open(partial, "wb") as part:
                part.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
