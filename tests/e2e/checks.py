"""What every page of a journey is checked for: axe (no serious or critical violation), no
sideways scrolling at its width (WCAG 1.4.10 Reflow), touch targets of 44 px on a phone,
and a full-page screenshot for people to look at."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE_WIDTH = 375
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

_axe = Axe()


# axe-core measures some elements by setting their style through the CSSOM and leaves an
# empty ``style=""`` behind. htmx copies ``style`` (one of its attributesToSettle) onto the
# new copy of an element it swaps in, and that setAttribute is what the CSP refuses: a
# violation the test itself caused. Removing the empty attributes afterwards keeps the page
# as the server sent it.
_AXE_CLEAN_UP = (
    "document.querySelectorAll('[style=\"\"]').forEach((e) => e.removeAttribute('style'))"
)


def _blocking_violations(page: Page) -> list[dict]:
    results = _axe.run(page)
    page.evaluate(_AXE_CLEAN_UP)
    return [
        violation
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def accessibility_report(page: Page, name: str) -> str | None:
    """axe-core on the page as it is now: None when there is no serious or critical
    violation, else a report naming each rule, its help text and the offending elements."""
    blocking = _blocking_violations(page)
    if not blocking:
        return None
    width = page.viewport_size["width"] if page.viewport_size else 0
    lines = [
        f"{name} at {width} px ({page.url}): {len(blocking)} serious/critical axe violation(s)"
    ]
    for violation in blocking:
        lines.append(
            f"- {violation['id']} [{violation['impact']}]: {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"]:
            targets = ", ".join(str(t) for t in node["target"])
            lines.append(f"    {targets}: {node['html'][:200]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
    return "\n".join(lines)


def assert_accessible(page: Page, name: str) -> None:
    """Fail now on any serious or critical axe violation (see :func:`accessibility_report`)."""
    report = accessibility_report(page, name)
    if report:
        pytest.fail(report, pytrace=False)


# Elements that stick out of the viewport's right edge, outermost first, leaving out those
# a scrolling container clips (a wide table in its .table-wrap scrolls on its own). An
# absolutely positioned element is clipped only by a scroller that is, or contains, its
# containing block: e.g. a .visually-hidden span in a table whose .table-wrap is not
# positioned escapes the wrap and widens the whole page.
_OVERFLOW_SCRIPT = """() => {
  const body = document.body;
  const style = (el) => getComputedStyle(el);
  const scrolls = (el) => ["auto", "scroll", "hidden", "clip"].includes(style(el).overflowX);
  const clipped = (el) => {
    let node = el;
    while (node && node !== body) {
      const position = style(node).position;
      if (position === "fixed") return false;
      let next = node.parentElement;
      if (position === "absolute") {
        while (next && next !== body && style(next).position === "static") {
          next = next.parentElement;
        }
      }
      if (next && next !== body && scrolls(next)) return true;
      node = next;
    }
    return false;
  };
  const limit = document.documentElement.clientWidth + 1;
  const found = [];
  for (const el of body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= limit || clipped(el)) continue;
    if (found.some((f) => f.el.contains(el) && !scrolls(f.el))) continue;
    found.push({el, right: Math.round(box.right)});
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
    offenders: found.slice(0, 5).map(
      (f) => f.el.outerHTML.slice(0, 160) + " (right edge at " + f.right + " px)"
    ),
  };
}"""


def reflow_report(page: Page, name: str) -> str | None:
    """None when the page needs no horizontal scrolling at its width (WCAG 1.4.10 Reflow),
    else which elements stick out."""
    result = page.evaluate(_OVERFLOW_SCRIPT)
    if result["scrollWidth"] <= result["width"]:
        return None
    lines = [
        f"{name} at {result['width']} px ({page.url}): the page scrolls sideways "
        f"({result['scrollWidth']} px wide); sticking out:"
    ]
    lines += [f"    {offender}" for offender in result["offenders"]]
    return "\n".join(lines)


# Controls a finger must hit on a phone, smaller than 44 x 44 CSS px (WCAG 2.5.5, and the
# house rule for every page). A radio or checkbox counts by its label when the label wraps
# it; links inside running text are exempt, links styled as buttons are not.
_SMALL_TARGETS_SCRIPT = """() => {
  const min = 44;
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    const css = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && css.visibility !== "hidden"
      && !el.closest(".visually-hidden, [hidden], [aria-hidden=true]");
  };
  const selector = "button, a.button, select, textarea, input:not([type=hidden])";
  const small = [];
  for (const control of document.querySelectorAll(selector)) {
    const target = ["radio", "checkbox"].includes(control.type) && control.closest("label")
      ? control.closest("label") : control;
    if (!visible(target)) continue;
    const box = target.getBoundingClientRect();
    if (box.height < min - 0.5 || (box.width < min - 0.5)) {
      const id = target.id ? "#" + target.id : "";
      const name = target.getAttribute("name") ? "[name=" + target.getAttribute("name") + "]" : "";
      const shown = target.tagName === "SELECT"
        ? (target.selectedOptions[0] || {}).text : target.innerText || target.value;
      const text = (shown || "").replace(/\\s+/g, " ").trim().slice(0, 40);
      small.push(target.tagName.toLowerCase() + id + name + (text ? ' "' + text + '"' : "")
        + " (" + Math.round(box.width) + " x " + Math.round(box.height) + " px)");
    }
  }
  return small;
}"""


def touch_target_report(page: Page, name: str) -> str | None:
    """None when every button, button-like link and form control is at least 44 x 44 px."""
    small = page.evaluate(_SMALL_TARGETS_SCRIPT)
    if not small:
        return None
    width = page.viewport_size["width"] if page.viewport_size else 0
    lines = [f"{name} at {width} px ({page.url}): {len(small)} touch target(s) under 44 px:"]
    lines += [f"    {target}" for target in small[:8]]
    return "\n".join(lines)


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG at ``test-output/screenshots/<name>-<width>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page: Page, name: str) -> None:
    """Both checks at the page's current width, failing at once."""
    assert_accessible(page, name)
    screenshot(page, name)


def look_at(page: Page, name: str, *widths: int) -> list[str]:
    """At each width (the page is resized, then put back to its own width): a screenshot,
    axe, the reflow check and, at phone width, the touch-target check. Returns the reports
    instead of failing, so that a journey can go on and report every page's problems at
    once (the ``look`` fixture does that)."""
    original = page.viewport_size
    assert original is not None
    reports = []
    for width in widths or (original["width"],):
        page.set_viewport_size({"width": width, "height": original["height"]})
        screenshot(page, name)
        checks = [accessibility_report(page, name), reflow_report(page, name)]
        if width <= PHONE_WIDTH:
            checks.append(touch_target_report(page, name))
        reports.extend(report for report in checks if report)
    page.set_viewport_size(original)
    return reports
