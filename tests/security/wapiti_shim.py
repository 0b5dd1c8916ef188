"""Runs wapiti with one fix: exclusion patterns (`-x`) on Python 3.11+.

wapiti 3.0.4 (the Debian package) compiles `-x` patterns with a trailing inline flag (`…\\Z(?ms)`),
which Python 3.11 refuses ("global flags not at the start of the expression"), so any `-x` crashes
the crawler. Later wapiti releases put the flags first; this does the same, then runs wapiti's own
entry point. Run it with the interpreter wapiti is installed for (see `scan.wapiti_command`).
"""

import re
import sys

from wapitiCore.main.wapiti import wapiti_main
from wapitiCore.net import crawler


def wildcard_translate(pattern: str) -> re.Pattern:
    """The URL pattern with `*` as "anything", anchored at both ends."""
    return re.compile("(?ms)" + ".*".join(re.escape(part) for part in pattern.split("*")) + r"\Z")


crawler.wildcard_translate = wildcard_translate

if __name__ == "__main__":
    sys.exit(wapiti_main())
