"""Shared set-up of the Playwright browser tests: the system Chromium, headless, no outside traffic.

Every page a browser test loads is audited with axe-core against WCAG 2.0, 2.1 and 2.2 levels A and
AA; each violation is a problem of the test, like a console error or a CSP violation.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

# Background networking and component updates would try to reach the internet at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Reports every Content-Security-Policy violation of the page to the test (`page.expose_function`).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportCsp(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


# Test-only: never referenced by a template, so no page ships it.
AXE_PATH = Path(__file__).resolve().parents[1] / "static" / "vendor" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Runs axe on the whole document and returns one plain object per violation.
AXE_RUN = """
async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}
"""
# Messages of a page that navigated away while axe ran: the next page load is audited instead.
NAVIGATED_AWAY = ("Execution context was destroyed", "Target page, context or browser has been closed")


@cache
def axe_source() -> str:
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(page) -> list[str]:
    """The WCAG A/AA violations axe finds on the page as it is now, one readable line each:
    `rule (impact) at <url>: help — target selectors`.

    The pages' Content-Security-Policy forbids inline scripts, so axe is evaluated through the
    DevTools protocol (which CSP does not govern) instead of an injected <script> tag."""
    page.evaluate(axe_source())
    return [
        f"axe {v['id']} ({v['impact']}) at {page.url}: {v['help']} — {', '.join(v['targets'])}"
        for v in page.evaluate(AXE_RUN, AXE_TAGS)
    ]


class LoadAudits:
    """Audits every page the tab loads (the `load` event) and adds the violations to `problems`.

    Playwright runs each event handler in a greenlet of its own, so an audit may still be running
    when the test goes on: `wait()` lets the running ones finish. A page the test leaves while axe
    runs on it is recorded in `left` instead (the page that replaced it gets its own audit)."""

    def __init__(self, page, problems: list[str]):
        self.page, self.problems = page, problems
        self.audited: list[str] = []
        self.left: list[str] = []
        self.running = 0
        page.on("load", self.audit)

    def audit(self, _page) -> None:
        url = self.page.url
        self.running += 1
        try:
            self.problems.extend(axe_violations(self.page))
            self.audited.append(url)
        except Exception as error:
            if not any(message in str(error) for message in NAVIGATED_AWAY):
                raise
            self.left.append(url)
        finally:
            self.running -= 1

    def wait(self) -> None:
        while self.running:
            self.page.wait_for_timeout(50)


def assert_no_problems(page, problems: list[str]) -> None:
    """Once the audits still running are done: no problem at all, listed one a line if any."""
    page.load_audits.wait()
    assert not problems, "Problems in the browser:\n" + "\n".join(problems)


def chromium_path() -> str:
    """The system Chromium (`make test` installs it); a missing browser is an error, never a skip."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("The browser tests need the system Chromium: run scripts/ensure-chromium.sh.")
    return path


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)


@contextmanager
def open_page(
    *, viewport: dict[str, int], accept_downloads: bool = False, report_http_errors: bool = False
) -> Iterator[tuple[object, list[str]]]:
    """A page in a fresh headless Chromium and the list of problems seen on it: console errors, page
    errors, CSP violations, accessibility violations of every page loaded (axe, WCAG A/AA) and,
    with `report_http_errors`, every response with a status >= 400."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        context = browser.new_context(viewport=viewport, accept_downloads=accept_downloads)
        page = context.new_page()
        problems: list[str] = []
        page.on(
            "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
        )
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        if report_http_errors:
            page.on(
                "response",
                lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
            )
        page.expose_function("reportCsp", lambda text: problems.append(f"CSP violation: {text}"))
        page.add_init_script(CSP_LISTENER)
        page.load_audits = LoadAudits(page, problems)
        page.set_default_timeout(15_000)
        yield page, problems
        context.close()
        browser.close()
