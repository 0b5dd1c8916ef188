"""Shared set-up of the Playwright browser tests: the system Chromium, headless, no outside traffic."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

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
    errors, CSP violations and, with `report_http_errors`, every response with a status >= 400."""
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
        page.set_default_timeout(15_000)
        yield page, problems
        context.close()
        browser.close()


# A delivery site's name that is also HTML: shown as markup it would send the viewer elsewhere.
META_REFRESH_NAME = '<meta http-equiv=refresh content="0;url=https://evil.example/">'


def hover_and_read_tooltip(page, marker) -> dict:
    """Hover `marker` and return what its Leaflet tooltip put in the page: the tooltip's text, how many
    <meta> elements the page holds, and its URL a moment later. Requests to evil.example are
    aborted, so a refresh that slips through stays on this machine."""
    page.route("https://evil.example/**", lambda route: route.abort())
    url = page.url
    metas_before = page.locator("meta").count()
    marker.hover()
    page.wait_for_timeout(1000)  # the tooltip opens at once; a meta refresh of 0 s fires by then
    return {
        "url_unchanged": page.url == url,
        "new_metas": page.locator("meta").count() - metas_before,
        "text": page.evaluate("document.querySelector('.leaflet-tooltip')?.textContent ?? null"),
    }
