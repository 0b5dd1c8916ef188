"""pytest plugin of scripts/mutate.py: one test session runs the selected tests once per mutant.

Starting Django, connecting and checking the test database take longer than most mutants' tests, so
they happen once. For each mutant the plugin writes the mutated module to disk (subprocesses that the
tests start, such as Celery workers, import it from there) and swaps the code of each changed function
in the running process (every reference, `from x import f` included, sees the change), runs the tests
until the first failure, and puts the original back. A test that hangs ends the whole process through
faulthandler; the driver records a timeout and starts a new session for the remaining mutants.

Input: the JSON plan named by OMS_MUTATE_PLAN ({"module", "path", "original", "timeout", "results",
"mutants": [{"id", "source"}]}, the first being "baseline", the unmutated module, whose time sets
the timeout unless the plan gives one); output: one JSON line per mutant appended to plan["results"].
"""

from __future__ import annotations

import faulthandler
import importlib
import inspect
import json
import os
import sys
import threading
import time
import types
from pathlib import Path

import pytest


def _codes(code: types.CodeType, found: dict[str, types.CodeType]) -> dict[str, types.CodeType]:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found.setdefault(const.co_qualname, const)
            _codes(const, found)
    return found


def _live_functions(module: types.ModuleType) -> list[types.FunctionType]:
    """Every function defined in the module, decorated ones unwrapped, methods included."""
    seen: dict[int, types.FunctionType] = {}

    def add(obj) -> None:
        while obj is not None:
            if isinstance(obj, staticmethod | classmethod):
                obj = obj.__func__
            if isinstance(obj, property):
                for part in (obj.fget, obj.fset, obj.fdel):
                    add(part)
                return
            if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
                seen[id(obj)] = obj
            obj = getattr(obj, "__wrapped__", None)

    for value in list(vars(module).values()):
        if inspect.isclass(value) and value.__module__ == module.__name__:
            for member in vars(value).values():
                add(member)
        else:
            add(value)
    return list(seen.values())


def apply(module: types.ModuleType, source: str) -> list[tuple[types.FunctionType, types.CodeType]] | None:
    """Swap the code of the functions the mutant changes; None if it changes nothing swappable."""
    new = _codes(compile(source, module.__file__, "exec"), {})
    swapped = []
    for func in _live_functions(module):
        code = new.get(func.__code__.co_qualname)
        if code is None or code == func.__code__:
            continue
        if code.co_freevars != func.__code__.co_freevars:
            for f, old in swapped:
                f.__code__ = old
            return None
        swapped.append((func, func.__code__))
        func.__code__ = code
    return swapped or None


class Failures:
    def __init__(self) -> None:
        self.nodeids: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            self.nodeids.append(report.nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session):
    plan = json.loads(Path(os.environ["OMS_MUTATE_PLAN"]).read_text())
    results = Path(plan["results"])
    done = set()
    if results.exists():
        done = {json.loads(line)["id"] for line in results.read_text().splitlines() if line.strip()}
    module = importlib.import_module(plan["module"])
    path = Path(module.__file__)
    items = session.items
    failures = Failures()
    session.config.pluginmanager.register(failures, "mutate-failures")

    def record(**entry) -> None:
        with results.open("a") as out:
            out.write(json.dumps(entry) + "\n")

    timeout = plan["timeout"]
    for line in results.read_text().splitlines() if results.exists() else []:
        entry = json.loads(line)
        if entry["id"] == "baseline" and entry["status"] == "survived" and not timeout:
            timeout = 2 * entry["seconds"] + 30
    for mutant in plan["mutants"]:
        if mutant["id"] in done:
            continue
        swapped: list = []
        if mutant["id"] != "baseline":
            swapped = apply(module, mutant["source"]) if mutant.get("in_process", True) else None
            if swapped is None:
                record(id=mutant["id"], status="not-applied")
                continue
        path.write_text(mutant["source"])
        record(id=mutant["id"], status="started")
        failures.nodeids.clear()
        faulthandler.dump_traceback_later(timeout or 3600, exit=True)
        started = time.monotonic()
        try:
            for i, item in enumerate(items):
                # Keep the fixtures the first test shares (session, database) between mutants.
                nextitem = items[i + 1] if i + 1 < len(items) else items[0]
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                if failures.nodeids:
                    session._setupstate.teardown_exact(items[0])
                    break
        finally:
            faulthandler.cancel_dump_traceback_later()
            for func, code in swapped:
                func.__code__ = code
            path.write_text(plan["original"])
        status = "killed" if failures.nodeids else "survived"
        seconds = round(time.monotonic() - started, 1)
        if mutant["id"] == "baseline" and not timeout:
            timeout = 2 * seconds + 30
        record(
            id=mutant["id"],
            status=status,
            seconds=seconds,
            failed_test=failures.nodeids[0] if failures.nodeids else "",
        )
        sys.stdout.flush()
        if mutant["id"] == "baseline" and status == "killed":
            break  # the tests fail without a mutant: nothing to learn from the others
        if status == "killed" and threading.active_count() > 1:
            # A failed concurrency test can leave threads (and their sessions, waiting on locks)
            # behind, which would change what the next mutant's tests see: start a fresh session.
            break
    session._setupstate.teardown_exact(None)
    session.testsfailed = 0
    return True
