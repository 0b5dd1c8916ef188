#!/usr/bin/env python3
"""Mutation testing of one module: each mutant is one small deliberate bug, and the module's tests run
against it. A mutant the tests fail on is killed; one they pass on survived, and is either a missing
test or an equivalent change (one no caller can observe).

    scripts/mutate.py catalog/services.py tests/orders/test_stock.py tests/orders/test_concurrency.py
    scripts/mutate.py catalog/services.py --functions stock_lock,stock_consume tests/orders
    scripts/mutate.py orders/state.py --list             # the mutants only, no test run

Operators (one change per mutant, chosen where a wrong guard loses money or data):
  compare    <→<=, <=→<, >→>=, >=→>, ==→!=, !=→==, in→not in, not in→in, is→is not, is not→is
  bool       and→or, or→and, `not x`→`x`, True↔False
  number     n→n+1 (0→1, 1→2, 30→31)
  call       a call statement deleted (`pass` in its place); a queryset step dropped from a chain
             (.select_for_update(), .order_by(...), .distinct(), .skip_locked…); @transaction.atomic removed
  sql        in SQL text: ORDER BY … dropped, FOR UPDATE / SKIP LOCKED dropped, LEFT JOIN→JOIN,
             `x IS NULL OR` dropped, NOT EXISTS→EXISTS, `<`→`<=` and friends inside SQL

Mutants are made in a copy of the project (var/mutate/tree) so the working tree is never touched. One
pytest session (scripts/mutate_plugin.py) runs the unmutated module first, then every mutant: the code
of the changed functions is swapped in the running process and the file is rewritten for subprocesses,
the tests run until the first failure, and the original comes back. Each mutant has a timeout (2 × the
unmutated run + 30 s); a hang ends the session and counts as killed; a new session on a fresh test
database carries on, as it does after a mutant whose failing tests left threads behind. Mutants outside a function (module constants, a removed decorator) run in a
process of their own. Docstrings, logging calls and lines marked `# pragma: no mutate` are left alone.
The test environment (DATABASE_URL, REDIS_URL, DJANGO_ENV=test …) is the caller's; `make mutate` sets it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import io
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMPARE_SWAP = {
    "<": "<=",
    "<=": "<",
    ">": ">=",
    ">=": ">",
    "==": "!=",
    "!=": "==",
}
# Queryset steps whose loss changes locking or ordering but not the rows returned: exactly the bugs
# no functional test notices.
CHAIN_STEPS = {"select_for_update", "order_by", "distinct", "skip_locked", "nowait", "only", "defer"}
SQL_HINT = re.compile(r"\b(SELECT|UPDATE|INSERT|DELETE)\b")
SQL_EDITS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "drop ORDER BY",
        re.compile(r"\s+ORDER BY\s+[\w.]+(\s+(ASC|DESC))?(\s*,\s*[\w.]+(\s+(ASC|DESC))?)*"),
        "",
    ),
    ("drop FOR UPDATE", re.compile(r"\s+FOR UPDATE(\s+OF\s+\w+)?"), ""),
    ("drop SKIP LOCKED", re.compile(r"\s+SKIP LOCKED"), ""),
    ("LEFT JOIN→JOIN", re.compile(r"\bLEFT JOIN\b"), "JOIN"),
    ("drop IS NULL OR", re.compile(r"[\w.]+ IS NULL OR\s+"), ""),
    ("drop IS NULL AND", re.compile(r"[\w.]+ IS NULL AND\s+"), ""),
    ("NOT EXISTS→EXISTS", re.compile(r"\bNOT EXISTS\b"), "EXISTS"),
    ("drop DISTINCT", re.compile(r"\s+DISTINCT\b"), ""),
    ("SQL < → <=", re.compile(r"(?<=\s)<(?=\s)"), "<="),
    ("SQL <= → <", re.compile(r"(?<=\s)<=(?=\s)"), "<"),
    ("SQL > → >=", re.compile(r"(?<=\s)>(?=\s)"), ">="),
    ("SQL >= → >", re.compile(r"(?<=\s)>=(?=\s)"), ">"),
    ("SQL AND→OR", re.compile(r"\bAND\b"), "OR"),
    ("SQL OR→AND", re.compile(r"\bOR\b"), "AND"),
]
NO_MUTATE = "pragma: no mutate"
QUIET_CALLS = {"debug", "info", "warning", "error", "exception", "critical"}


@dataclass
class Mutant:
    id: str
    line: int
    operator: str
    function: str
    start: int  # offsets in the source text
    end: int
    replacement: str
    status: str = "pending"
    seconds: float = 0.0
    diff: str = ""
    failed_test: str = ""


@dataclass
class Report:
    module: str
    tests: list[str]
    baseline_seconds: float
    timeout: float
    mutants: list[Mutant] = field(default_factory=list)

    @property
    def killed(self) -> int:
        return sum(m.status in ("killed", "timeout") for m in self.mutants)


class Collector(ast.NodeVisitor):
    """Walks the module and records (start, end, replacement) edits on the source text."""

    def __init__(self, source: str, functions: set[str] | None):
        self.source = source
        self.lines = source.splitlines(keepends=True)
        self.offsets = [0]
        for line in self.lines:
            self.offsets.append(self.offsets[-1] + len(line))
        self.functions = functions
        self.stack: list[str] = []
        self.edits: list[tuple[int, int, int, str, str, str]] = []  # line, start, end, repl, op, fn
        self.tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        self.docstrings: set[int] = set()

    # positions ---------------------------------------------------------------------------------------
    def pos(self, line: int, col: int) -> int:
        """Offset of (line, col); col is in UTF-8 bytes in the AST, so convert via the line."""
        text = self.lines[line - 1]
        return self.offsets[line - 1] + len(text.encode()[:col].decode(errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.pos(node.lineno, node.col_offset), self.pos(node.end_lineno, node.end_col_offset)

    def tok_offset(self, tok: tokenize.TokenInfo) -> tuple[int, int]:
        (sl, sc), (el, ec) = tok.start, tok.end
        return self.offsets[sl - 1] + sc, self.offsets[el - 1] + ec

    def tokens_between(self, start: int, end: int, kinds: set[str]) -> list[tuple[int, int, str]]:
        found = []
        for tok in self.tokens:
            if tok.type not in (tokenize.OP, tokenize.NAME):
                continue
            s, e = self.tok_offset(tok)
            if s >= start and e <= end and tok.string in kinds:
                found.append((s, e, tok.string))
        return found

    # bookkeeping -------------------------------------------------------------------------------------
    def wanted(self, line: int) -> bool:
        if NO_MUTATE in self.lines[line - 1]:
            return False
        if self.functions is None:
            return True
        return any(name in self.functions for name in self.stack)

    def add(self, line: int, start: int, end: int, repl: str, op: str) -> None:
        if self.wanted(line):
            self.edits.append((line, start, end, repl, op, ".".join(self.stack) or "<module>"))

    # scopes ------------------------------------------------------------------------------------------
    def visit_scope(self, node) -> None:
        self.note_docstring(node)
        self.stack.append(node.name)
        for deco in getattr(node, "decorator_list", []):
            text = ast.unparse(deco)
            if text in ("transaction.atomic", "atomic") or text.startswith("transaction.atomic("):
                # The whole decorator line(s), '@' and indentation included.
                start, end = self.offsets[deco.lineno - 1], self.offsets[deco.end_lineno]
                self.add(deco.lineno, start, end, "", f"drop @{text}")
        self.generic_visit(node)
        self.stack.pop()

    def note_docstring(self, node) -> None:
        first = node.body[0] if node.body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):  # a docstring: never mutated
            self.docstrings.add(id(value))

    def visit_Module(self, node: ast.Module) -> None:
        self.note_docstring(node)
        self.generic_visit(node)

    visit_FunctionDef = visit_scope
    visit_AsyncFunctionDef = visit_scope
    visit_ClassDef = visit_scope

    # operators ---------------------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare) -> None:
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            gap_start, gap_end = self.span(left)[1], self.span(right)[0]
            toks = self.tokens_between(gap_start, gap_end, {*COMPARE_SWAP, "in", "not", "is"})
            if isinstance(op, ast.In | ast.NotIn | ast.Is | ast.IsNot):
                s, e = toks[0][0], toks[-1][1]
                repl = {ast.In: "not in", ast.NotIn: "in", ast.Is: "is not", ast.IsNot: "is"}[type(op)]
                self.add(node.lineno, s, e, repl, f"{self.source[s:e]}→{repl}")
            elif toks:
                s, e, text = toks[0]
                self.add(node.lineno, s, e, COMPARE_SWAP[text], f"{text}→{COMPARE_SWAP[text]}")
            left = right
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        word = "and" if isinstance(node.op, ast.And) else "or"
        other = "or" if word == "and" else "and"
        for prev, nxt in zip(node.values, node.values[1:], strict=False):
            for s, e, _ in self.tokens_between(self.span(prev)[1], self.span(nxt)[0], {word}):
                self.add(nxt.lineno, s, e, other, f"{word}→{other}")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            start = self.span(node)[0]
            end = start + len("not")
            while self.source[end] in " \t":
                end += 1
            self.add(node.lineno, start, end, "", "drop not")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if id(node) in self.docstrings:
            return
        s, e = self.span(node)
        value = node.value
        if isinstance(value, bool):
            self.add(node.lineno, s, e, str(not value), f"{value}→{not value}")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.add(node.lineno, s, e, repr(value + 1), f"{value}→{value + 1}")
        elif isinstance(value, str) and SQL_HINT.search(value):
            self.sql_edits(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        if SQL_HINT.search(text):
            self.sql_edits(node)
        else:
            self.generic_visit(node)

    def sql_edits(self, node: ast.AST) -> None:
        s, e = self.span(node)
        segment = self.source[s:e]
        for name, pattern, repl in SQL_EDITS:
            for match in pattern.finditer(segment):
                line = node.lineno + segment[: match.start()].count("\n")
                self.add(line, s + match.start(), s + match.end(), repl, name)

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Call) and not self.is_logging(node.value):
            s, e = self.span(node)
            self.add(node.lineno, s, e, "pass", "delete call")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in CHAIN_STEPS:
            # x.order_by("pk") → x : cut from the end of x to the end of the call.
            s = self.span(func.value)[1]
            e = self.span(node)[1]
            self.add(node.lineno, s, e, "", f"drop .{func.attr}()")
        if isinstance(func, ast.Attribute) and func.attr == "select_for_update" and node.keywords:
            for kw in node.keywords:
                if kw.arg in ("skip_locked", "nowait", "no_key") and isinstance(kw.value, ast.Constant):
                    ks, ke = self.span(kw.value)
                    self.add(
                        kw.value.lineno, ks, ke, str(not kw.value.value), f"{kw.arg}={not kw.value.value}"
                    )
            for kw in node.keywords:
                self.visit(kw.value)
            self.visit(func.value)
            return
        self.generic_visit(node)

    @staticmethod
    def is_logging(call: ast.Call) -> bool:
        func = call.func
        return (
            isinstance(func, ast.Attribute)
            and func.attr in QUIET_CALLS
            and isinstance(func.value, ast.Name)
            and func.value.id in ("log", "logger", "logging")
        )


def collect(path: Path, functions: set[str] | None) -> tuple[str, list[Mutant]]:
    source = path.read_text()
    collector = Collector(source, functions)
    collector.visit(ast.parse(source))
    mutants: list[Mutant] = []
    seen: set[tuple[int, int, str]] = set()
    for line, start, end, repl, op, fn in sorted(collector.edits, key=lambda x: (x[1], x[2], x[4])):
        if (start, end, repl) in seen or source[start:end] == repl:
            continue
        seen.add((start, end, repl))
        mutated = source[:start] + repl + source[end:]
        try:
            compile(mutated, str(path), "exec")
        except SyntaxError:
            continue
        n = sum(1 for m in mutants if m.line == line) + 1
        mutant = Mutant(f"{line}.{n}", line, op, fn, start, end, repl)
        mutant.diff = "".join(
            difflib.unified_diff(
                source.splitlines(keepends=True),
                mutated.splitlines(keepends=True),
                f"a/{path.relative_to(ROOT)}",
                f"b/{path.relative_to(ROOT)}",
                n=1,
            )
        )
        mutants.append(mutant)
    return source, mutants


def copy_tree(dest: Path) -> None:
    """The project without .git, var and caches; .venv is linked, not copied."""
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns(
        ".git", "var", "__pycache__", "*.pyc", ".venv", "node_modules", ".*_cache"
    )
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())


def run_tests(tree: Path, tests: list[str], timeout: float, extra: list[str]) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout', seconds, first failing test)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    args = [str(tree / ".venv/bin/pytest"), "-x", "-q", "-p", "no:cacheprovider", "--reuse-db"]
    args += ["-m", "not slow", *extra, *tests]
    started = time.monotonic()
    proc = subprocess.Popen(  # noqa: S603 - our own pytest
        args, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        kill_strays(tree)
        return "timeout", time.monotonic() - started, ""
    except BaseException:  # interrupted: take the test run (and its servers) down with us
        os.killpg(proc.pid, signal.SIGKILL)
        kill_strays(tree)
        raise
    seconds = time.monotonic() - started
    text = out.decode(errors="replace")
    first = next(
        (ln.split(" ", 1)[1] for ln in text.splitlines() if ln.startswith(("FAILED ", "ERROR "))), ""
    )
    if proc.returncode == 0:
        return "passed", seconds, ""
    if proc.returncode == 5:  # no tests collected: a broken selection, not a kill
        raise SystemExit(f"no tests ran for {tests}:\n{text[-2000:]}")
    return "failed", seconds, first.split(" - ")[0]


def kill_strays(tree: Path) -> None:
    """Processes the tests started from the copy (Celery workers in sessions of their own) that outlive
    a killed test run."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(tree).encode() in cmdline and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)


def run_session(tree: Path, tests: list[str], extra: list[str], plan: Path, log: Path) -> None:
    """One pytest session that runs every mutant of the plan not yet done (scripts/mutate_plugin.py)."""
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMS_MUTATE_PLAN": str(plan),
        "PYTHONPATH": str(tree / "scripts"),
    }
    args = [
        str(tree / ".venv/bin/pytest"),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "mutate_plugin",
        "--reuse-db",
    ]
    args += ["-m", "not slow", *extra, *tests]
    with log.open("a") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own pytest
            args, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            kill_strays(tree)


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # restore the module, stop the tests
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("module", help="the module to mutate, e.g. catalog/services.py")
    parser.add_argument("tests", nargs="*", help="test paths / node ids run against each mutant")
    parser.add_argument("--functions", help="comma-separated functions (or classes) to mutate; default all")
    parser.add_argument("--only", help="comma-separated mutant ids to run (from --list or a report)")
    parser.add_argument("--list", action="store_true", help="print the mutants and exit")
    parser.add_argument(
        "--timeout", type=float, help="seconds per mutant (default 2 × the unmutated run + 30)"
    )
    parser.add_argument("--pytest-args", default="", help="extra pytest arguments")
    parser.add_argument("--work", default=str(ROOT / "var" / "mutate"), help="scratch directory")
    opts = parser.parse_intermixed_args()

    module = Path(opts.module)
    functions = set(opts.functions.split(",")) if opts.functions else None
    source, mutants = collect(ROOT / module, functions)
    if opts.only:
        wanted = set(opts.only.split(","))
        mutants = [m for m in mutants if m.id in wanted]
    if opts.list:
        for m in mutants:
            print(f"--- mutant {m.id} [{m.operator}] in {m.function}\n{m.diff}")
        print(f"{len(mutants)} mutants")
        return 0
    if not opts.tests:
        parser.error("give the tests to run against each mutant")

    work = Path(opts.work).resolve()
    tree = work / "tree"
    copy_tree(tree)
    target = tree / module
    extra = shlex.split(opts.pytest_args)

    results = work / "results.jsonl"
    results.unlink(missing_ok=True)
    (work / "session.log").unlink(missing_ok=True)
    plan_path = work / "plan.json"
    plan = {
        "module": str(module.with_suffix("")).replace("/", "."),
        "original": source,
        "timeout": opts.timeout,
        "results": str(results),
        "mutants": [{"id": "baseline", "source": source}]
        + [
            {
                "id": m.id,
                "source": source[: m.start] + m.replacement + source[m.end :],
                # A removed decorator changes no function's code, only where it is bound.
                "in_process": not m.operator.startswith("drop @"),
            }
            for m in mutants
        ],
    }
    plan_path.write_text(json.dumps(plan))
    print(f"{module}: {len(mutants)} mutants, one test session for all (a new one after a timeout)")
    by_id = {m.id: m for m in mutants}
    final: dict = {}
    while True:
        done_before = len(final)
        run_session(tree, opts.tests, extra, plan_path, work / "session.log")
        entries = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
        final = {e["id"]: e for e in entries if e["status"] != "started"}
        hung = [e["id"] for e in entries if e["status"] == "started" and e["id"] not in final]
        for mid in hung:  # the session ended inside this mutant's tests: a hang, faulthandler's exit
            with results.open("a") as out:
                out.write(
                    json.dumps({"id": mid, "status": "timeout", "seconds": 0, "failed_test": ""}) + "\n"
                )
            final[mid] = {"id": mid, "status": "timeout", "seconds": 0, "failed_test": ""}
        base = final.get("baseline")
        if base is None or base["status"] != "survived":
            print(f"the tests fail without any mutant; fix them first (see {work / 'session.log'})")
            return 2
        if all(m.id in final for m in mutants) or len(final) == done_before:
            break  # all done, or a session that made no progress
    baseline = base["seconds"]
    timeout = opts.timeout or 2 * baseline + 30
    report = Report(str(module), opts.tests, baseline, round(timeout, 1), mutants)
    print(f"unmutated tests pass in {baseline:.1f} s; timeout {timeout:.0f} s")
    for i, m in enumerate(mutants, 1):
        entry = final.get(m.id, {"status": "not-applied"})
        if entry["status"] == "not-applied":  # module level or a decorator: a fresh process per mutant
            target.write_text(plan["mutants"][i]["source"])
            try:
                result, m.seconds, m.failed_test = run_tests(tree, opts.tests, timeout, extra)
            finally:
                target.write_text(source)
            m.status = {"passed": "survived", "failed": "killed", "timeout": "timeout"}[result]
        else:
            m.status, m.seconds, m.failed_test = entry["status"], entry["seconds"], entry["failed_test"]
        print(f"[{i}/{len(mutants)}] {m.id} {m.operator:<24} {m.status:<8} {m.seconds:6.1f}s {m.failed_test}")
    assert set(by_id) == {m.id for m in mutants}

    survivors = [m for m in mutants if m.status == "survived"]
    slug = str(module).replace("/", ".").removesuffix(".py")
    (work / f"{slug}.json").write_text(json.dumps(asdict(report), indent=1, default=str))
    print(f"\n{module}: {report.killed}/{len(mutants)} killed, {len(survivors)} survived")
    for m in survivors:
        print(f"--- survivor {m.id} [{m.operator}] in {m.function}\n{m.diff}")
    print(f"report: {work / (slug + '.json')}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
