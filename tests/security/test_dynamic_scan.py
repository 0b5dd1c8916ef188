"""The dynamic security scan: wapiti against the live stack as a stranger, a customer and a rep.

Marked slow (`make test-slow`, about ten minutes). Each scan signs in through the real login form,
crawls from its start page, attacks what it found, and fails on any finding of medium severity or
above that `triage.json` does not list; every triaged finding is explained in docs/security.md. A
scan must also have fetched the pages only its role can see, so a broken sign-in cannot pass as a
clean scan. The reports stay in `$OMS_VAR_DIR/security-scan/<role>/report.json` for reading.
"""

from __future__ import annotations

import json
import os
import shutil
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import requests

from tests.security.scan import (
    ROLES,
    SECURITY_DOC,
    ScanResult,
    counts_by_severity,
    finding_key,
    live_stack,
    load_triage,
    login,
    post_without_csrf_token,
    row_counts,
    server_errors,
    start_wapiti,
    untriaged,
)

# Per scan: crawling stops after CRAWL_SECONDS, each attack module after ATTACK_SECONDS.
CRAWL_SECONDS = 90
ATTACK_SECONDS = 20
SCAN_TIMEOUT = 900
CSRF_CATEGORY = "Cross Site Request Forgery"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with live_stack(
        tmp_path_factory.mktemp("stack"), os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    ) as running:
        yield running


def report_dir(role: str) -> Path:
    directory = Path(os.environ.get("OMS_VAR_DIR", "var")) / "security-scan" / role
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


@pytest.fixture(scope="module")
def sessions(stack) -> dict[str, requests.Session | None]:
    """Everyone signs in before the first attack: the anonymous scan's attempts at the sign-in
    forms may lock the loopback address out."""
    return {role: login(stack, role) for role in ROLES}


@pytest.fixture(scope="module")
def scans(stack, sessions) -> dict[str, ScanResult]:
    """The three scans, run side by side."""
    before = row_counts(stack)
    running = [
        start_wapiti(
            stack,
            ROLES[role],
            sessions[role],
            report_dir(role),
            crawl_seconds=CRAWL_SECONDS,
            attack_seconds=ATTACK_SECONDS,
        )
        for role in ROLES
    ]
    results = {scan.role: scan.result(timeout=SCAN_TIMEOUT) for scan in running}
    after = row_counts(stack)
    print(f"\nrows the scans created: { {table: after[table] - before[table] for table in after} }")
    return results


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLES))
def test_scan_finds_nothing_untriaged(scans, stack, sessions, role):
    result = scans[role]
    findings = result.findings()
    print(
        f"\nwapiti {role}: {len(result.crawled)} URLs and forms crawled in {result.seconds:.0f} s; "
        f"findings by severity {counts_by_severity(findings)}"
    )
    for finding in findings:
        print(f"  [{finding['level']}] {finding['section']}: {finding_key(finding)} ({finding['parameter']})")

    reached = {path for _method, path, status in result.crawled if status == 200}
    missing = [p for p in ROLES[role].must_reach if not any(fnmatchcase(path, p) for path in reached)]
    assert missing == [], f"the {role} scan never fetched {missing}: did signing in work?"
    assert len(result.crawled) >= ROLES[role].min_urls
    # wapiti 3.0.4 does not know Django's token field (csrfmiddlewaretoken) and reports every form as
    # unprotected (triaged): each of them must really refuse a post without the token.
    csrf_paths = sorted({f["path"] for f in findings if f["category"] == CSRF_CATEGORY})
    statuses = {path: post_without_csrf_token(stack, sessions[role], path) for path in csrf_paths}
    assert statuses == dict.fromkeys(csrf_paths, 403)
    left = untriaged(findings, load_triage())
    assert left == [], json.dumps(
        [{k: f[k] for k in ("category", "method", "path", "parameter", "level", "info")} for f in left],
        indent=1,
    )


@pytest.mark.slow
def test_no_request_of_the_scans_failed_on_the_server(scans, stack):
    """wapiti reports a 500 only from some modules; the server's access log has all of them."""
    assert server_errors(stack.log) == []


def test_every_triaged_finding_is_explained_in_the_security_document():
    doc = SECURITY_DOC.read_text()
    triage = load_triage()

    assert triage, "an empty triage list means this check checks nothing"
    for entry in triage:
        assert set(entry) == {"key", "scans", "severity", "owner", "reason"}
        assert entry["severity"] in {"medium", "high", "critical"}
        assert set(entry["scans"]) <= set(ROLES)
        assert f"`{entry['key']}`" in doc, f"docs/security.md does not explain {entry['key']}"
