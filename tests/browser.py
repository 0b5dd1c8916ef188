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
    runs on it goes unaudited; the page that replaced it gets its own audit."""

    def __init__(self, page, problems: list[str]):
        self.page, self.problems = page, problems
        self.audited: list[str] = []
        self.running = 0
        page.on("load", self.audit)

    def audit(self, _page) -> None:
        url = self.page.url
        self.running += 1
        try:
            self.problems.extend(axe_violations(self.page))
            self.audited.append(url)
        except Exception as error:  # noqa: BLE001 - reported as a problem of the test
            if not any(message in str(error) for message in NAVIGATED_AWAY):
                self.problems.append(f"axe could not run at {url}: {error}")
        finally:
            self.running -= 1

    def wait(self) -> None:
        while self.running:
            self.page.wait_for_timeout(50)


def assert_no_problems(page, problems: list[str]) -> None:
    """Once the audits still running are done: no problem at all, listed one a line if any."""
    page.load_audits.wait()
    assert page.load_audits.audited, "No page was audited for accessibility."
    assert not problems, "Problems in the browser:\n" + "\n".join(problems)


# The focused element, whether it shows a focus indicator (an outline or a box shadow) and whether it
# matches the selector looked for.
FOCUS_STATE = """
(selector) => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow !== "none";
  // On the calendar button inside a date or time field (the browser's own, with its own focus ring)
  // the field itself does not match :focus.
  const pickerButton = el.matches("input[type=date], input[type=time]") && !el.matches(":focus");
  return {
    visible: outline || shadow || pickerButton,
    found: el.matches(selector),
    html: el.outerHTML.slice(0, 160),
  };
}
"""


def tab_to(page, selector: str, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab with `backwards`) until the element matching `selector` has the focus.
    Every element the focus passes on the way must show where the focus is."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        state = page.evaluate(FOCUS_STATE, selector)
        if state is None:
            continue
        assert state["visible"], f"The focus is not visible on {state['html']}"
        if state["found"]:
            return
    raise AssertionError(f"{selector} was not reached in {limit} presses of Tab")


# Every tap target of the page smaller than 24×24 CSS px that the WCAG 2.5.8 exceptions do not cover:
# a link inside a sentence, or an undersized target whose 24 px circle (centred on it) touches no
# other target and no other such circle. Hidden and visually-hidden elements are not targets.
SMALL_TAP_TARGETS = """
() => {
  const targets = [...document.querySelectorAll(
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button]"
  )].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && r.right > 0 && r.bottom > 0 && getComputedStyle(el).visibility !== "hidden";
  });
  const inSentence = (el) => getComputedStyle(el).display === "inline"
    && el.parentElement.textContent.trim().length > el.textContent.trim().length;
  const circle = (r) => ({x: r.left + r.width / 2, y: r.top + r.height / 2});
  const touchesRect = (c, r) => {
    const dx = Math.max(r.left - c.x, 0, c.x - r.right), dy = Math.max(r.top - c.y, 0, c.y - r.bottom);
    return dx * dx + dy * dy < 144;
  };
  const small = targets.filter((el) => {
    const r = el.getBoundingClientRect();
    return (r.width < 24 || r.height < 24) && !inSentence(el);
  });
  return small.filter((el) => {
    const c = circle(el.getBoundingClientRect());
    const crowded = targets.some((other) => other !== el && !other.contains(el) && !el.contains(other)
      && touchesRect(c, other.getBoundingClientRect()));
    const near = small.some((other) => {
      if (other === el) return false;
      const o = circle(other.getBoundingClientRect());
      return Math.hypot(o.x - c.x, o.y - c.y) < 24;
    });
    return crowded || near;
  }).map((el) => {
    const r = el.getBoundingClientRect();
    return `${el.outerHTML.slice(0, 100)} is ${Math.round(r.width)}×${Math.round(r.height)} px`;
  });
}
"""


# The innermost elements that reach past the right edge of a viewport `width` px wide.
TOO_WIDE = """
(width) => [...document.body.querySelectorAll("*")]
  .filter((el) => el.getBoundingClientRect().right > width
    && ![...el.children].some((child) => child.getBoundingClientRect().right > width))
  .map((el) => `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className ? "." + el.className : ""}`)
"""


def phone_layout_problems(page, width: int) -> list[str]:
    """What makes the page hard to use on a phone `width` CSS px wide: a horizontal scroll bar, tap
    targets too small and too close together."""
    problems = []
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    if scroll_width > width:
        problems.append(
            f"the page is {scroll_width} px wide; too wide: " + ", ".join(page.evaluate(TOO_WIDE, width))
        )
    return problems + page.evaluate(SMALL_TAP_TARGETS)


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
