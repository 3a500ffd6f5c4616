"""Browser tests: a real Chromium against pytest-django's ``live_server``.

One browser for all the tests of this package (starting Chromium is the slow part); a
fresh context (fresh cookies, fresh storage) per page a test opens. Every page listens for
Content-Security-Policy violations and uncaught JavaScript errors, so a page cannot pass
its journey while the browser silently refuses its inline style or script. The ``look``
fixture adds axe, reflow and touch-target checks of the pages a journey visits. All these
problems are collected and fail the test once its body has run, so one run lists every
page's problems instead of stopping at the first.

Tests using these fixtures need ``@pytest.mark.django_db(transaction=True)``: the live
server runs in another thread and only sees committed data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.e2e.checks import look_at
from tests.factories.members import current_totp_code

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHONE = 375
TABLET = 768
DESKTOP = 1280
VIEWPORT_HEIGHT = {PHONE: 812, TABLET: 1024, DESKTOP: 900}

# Runs in every document before the page's own scripts. Chromium reports most violations
# on the console by itself; the event catches the rest (e.g. those inside htmx swaps) and
# names the directive and the blocked source.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  const element = event.target instanceof Element ? event.target.outerHTML.slice(0, 160) : "";
  console.error(
    "securitypolicyviolation (Content Security Policy) on " + location.pathname + ": " +
    event.violatedDirective + " blocked " + (event.blockedURI || "inline code") +
    " at " + event.sourceFile + ":" + event.lineNumber +
    (element ? " on element " + element : "")
  );
}, true);
"""

# Navigation and assertion timeouts: the live server answers locally in milliseconds, so
# anything slower than this is a hang, not a slow page.
TIMEOUT_MS = 10_000


@dataclass
class PageProblems:
    """What the browser complained about while a test ran."""

    csp: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    accessibility: list[str] = field(default_factory=list)
    reported: bool = False

    def summary(self) -> str:
        """Everything that fails a test, or "" when nothing does (console errors other
        than CSP ones, e.g. a 404 for a favicon, are context, not failures)."""
        parts = []
        if self.csp:
            parts.append("Content-Security-Policy violations:\n  " + "\n  ".join(self.csp))
        if self.page_errors:
            parts.append("Uncaught JavaScript errors:\n  " + "\n  ".join(self.page_errors))
        if self.accessibility:
            parts.append("Accessibility:\n" + "\n".join(self.accessibility))
        return "\n".join(parts)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        text = f"{message.text} ({message.location.get('url', '?')})"
        if "Content Security Policy" in message.text:
            self.csp.append(text)
        else:
            self.console_errors.append(text)

    def on_page_error(self, error: Exception) -> None:
        self.page_errors.append(str(error))


# Package scope, not session: Playwright's event loop lives as long as the browser, and
# tests that run after these in the same session (asyncio.run, async_to_sync) must not
# find a running loop in their thread.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API drives an asyncio event loop in the main thread, and while that
    # loop exists Django's ORM refuses to run there ("SynchronousOnlyOperation"), although
    # every ORM call here is plain synchronous code in a test body or in the live server's
    # own thread. Django reads this variable at each call, so it holds exactly as long as
    # the browser (and its loop) lives, and not for the rest of the suite.
    with (
        pytest.MonkeyPatch.context() as patch,
        sync_playwright() as playwright,
    ):
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def page_at(
    browser: Browser, live_server, page_problems: PageProblems
) -> Iterator[Callable[[int], Page]]:
    """``page_at(375)``: a new page in its own browser context, ``width`` px wide, whose
    relative URLs go to the live server. Closed after the test; the test fails if any page
    it opened hit the Content-Security-Policy or threw an uncaught JavaScript error."""
    contexts: list[BrowserContext] = []

    def _open(width: int = DESKTOP) -> Page:
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": VIEWPORT_HEIGHT.get(width, 900)},
            accept_downloads=True,
            locale="en-GB",
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_LISTENER)
        contexts.append(context)
        page = context.new_page()
        page.on("console", page_problems.on_console)
        page.on("pageerror", page_problems.on_page_error)
        return page

    yield _open

    for context in contexts:
        context.close()
    # Normally reported as the test's own failure by pytest_runtest_call below; this catches
    # what happened after the test body (or when the hook did not run).
    if not page_problems.reported and page_problems.summary():
        pytest.fail(page_problems.summary(), pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Turn the pages' collected problems into the test's failure (not a teardown error),
    or, when the test failed anyway, into a section of its report."""
    outcome = yield
    problems = getattr(item, "funcargs", {}).get("page_problems")
    if not isinstance(problems, PageProblems) or not problems.summary():
        return
    problems.reported = True
    if outcome.excinfo is None:
        outcome.force_exception(pytest.fail.Exception(problems.summary(), pytrace=False))
    else:
        item.add_report_section("call", "page problems", problems.summary())


@pytest.fixture
def page(page_at: Callable[[int], Page]) -> Page:
    """A desktop-wide page."""
    return page_at(DESKTOP)


@pytest.fixture
def look(page_problems: PageProblems) -> Callable[..., None]:
    """``look(page, "name", 375, 1280)``: screenshot the page and check it (axe, reflow,
    touch targets on a phone; see :func:`tests.e2e.checks.look_at`) at each width.
    Problems are collected, not raised, so the journey goes on; the test fails at its end
    with every page's problems listed."""

    def _look(page: Page, name: str, *widths: int) -> None:
        page_problems.accessibility.extend(look_at(page, name, *widths))

    return _look


def sign_in(page: Page, live_server, email: str, password: str) -> None:
    """Sign in through the real allauth form, as a person would, and wait to land."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "/accounts/login/" not in page.url, f"sign-in as {email} failed: {page.url}"
    if "/accounts/2fa/authenticate/" in page.url:
        # Staff (enrolled by the factories) type the code from their authenticator app.
        # allauth refuses a code used before, and remembers used codes in the cache by
        # user id, which repeats between tests: forget them first.
        cache.clear()
        page.locator("input[name=code]").fill(current_totp_code())
        with page.expect_navigation():
            page.locator("form button[type=submit]").first.click()
        assert "/accounts/2fa/" not in page.url, f"the code for {email} failed: {page.url}"
