"""Run the benchmarks: every `bench/*.py` (or the ones named) in its own process and database.

    .venv/bin/python bench/run.py [api_orders fleet_positions ...]

Each benchmark gets DATABASE_URL with its own database name (`<name>_bench_<benchmark>`), so a run
never touches the test or development data. Results are printed; docs/benchmarks.md records them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

BENCH = Path(__file__).resolve().parent


def database_for(benchmark: str) -> str:
    url = urlparse(os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/oms"))
    if not url.scheme.startswith("postgres"):
        raise SystemExit("benchmarks need PostgreSQL: set DATABASE_URL=postgres://…")
    name = url.path.lstrip("/") or "oms"
    return url._replace(path=f"/{name}_bench_{benchmark}").geturl()


def main(names: list[str]) -> int:
    available = sorted(p.stem for p in BENCH.glob("*.py") if p.stem not in {"run", "common", "__init__"})
    chosen = names or available
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        raise SystemExit(f"unknown benchmarks {unknown}; available: {available}")
    failed = []
    for name in chosen:
        print(f"=== {name}", flush=True)
        env = {**os.environ, "DATABASE_URL": database_for(name)}
        if subprocess.run([sys.executable, str(BENCH / f"{name}.py")], env=env, check=False).returncode:
            failed.append(name)
    if failed:
        print(f"failed: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
