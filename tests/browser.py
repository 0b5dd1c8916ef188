"""Shared set-up of the Playwright browser tests: the system Chromium, headless, no outside traffic."""

from __future__ import annotations

import shutil

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
