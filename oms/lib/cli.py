"""Secrets for management commands, kept out of the shell history and the process list.

`add_secret_arguments(parser, "password")` offers `--password P` (still accepted, with a warning),
`--password-env VAR` (read from that environment variable) and `--password-stdin` (the first line of
standard input; a second such option reads the second line). `read_secret` returns the one given,
or None. Commands list "stdin" in `stealth_options` so `call_command(..., stdin=...)` can feed it.
"""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand, CommandError


def add_secret_arguments(parser, name: str, what: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        f"--{name}", help=f"The {what} (visible in the shell history: prefer the options below)."
    )
    group.add_argument(
        f"--{name}-env", metavar="VAR", help=f"Read the {what} from the environment variable VAR."
    )
    group.add_argument(f"--{name}-stdin", action="store_true", help=f"Read the {what} from standard input.")


def read_secret(command: BaseCommand, options: dict, name: str) -> str | None:
    """The secret `name` given by one of the options of `add_secret_arguments`, or None."""
    key = name.replace("-", "_")
    if options.get(key) is not None:
        command.stderr.write(
            f"warning: --{name} on the command line ends up in the shell history and the process list; "
            f"use --{name}-env VAR or --{name}-stdin."
        )
        return options[key]
    if variable := options.get(f"{key}_env"):
        if not os.environ.get(variable):
            raise CommandError(f"--{name}-env: the environment variable {variable} is not set.")
        return os.environ[variable]
    if options.get(f"{key}_stdin"):
        stdin = options.get("stdin") or sys.stdin
        value = stdin.readline().rstrip("\r\n")
        if not value:
            raise CommandError(f"--{name}-stdin: standard input is empty.")
        return value
    return None
