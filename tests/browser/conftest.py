"""Browser tests: a real Chromium (Debian's, never a downloaded one) driven by
Playwright's sync API against pytest-django's live server.

One browser per session, a fresh context (cookies, storage) per test. Every page a
test opens records console errors, uncaught page errors and Content Security Policy
violations; the test fails at teardown if there were any.
"""

import asyncio
import os
import re
import shutil
from pathlib import Path

import pytest

from .chromium import CHROMIUM_ARGS

# Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls
# from a thread with a running loop unless told this is fine (it is: the loop only
# waits for the browser while the test code is suspended).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

VIEWPORT = {"width": 1440, "height": 900}
SCREENSHOT_DIR = Path(os.environ.get("ACCORD_SCREENSHOT_DIR", "/tmp/accord-browser-shots"))
# Chromium logs every 4xx/5xx response as a console error. A test that expects one
# (a refused form) says so with ``page.allow_http_errors(...)``.
HTTP_ERROR = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")

# Reports CSP violations to the console, where the collector below sees them. Init
# scripts are injected by the browser itself, so the strict CSP does not block this.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (e) => {
  const t = e.target;
  const where = t && t.tagName ? `${t.tagName.toLowerCase()}${t.id ? "#" + t.id : ""}` : "";
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` on ${where} (${e.sourceFile}:${e.lineNumber})`);
});
"""


def _chromium():
    path = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI")
        pytest.skip("browser tests need Debian's chromium: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def _playwright():
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    loop = asyncio.get_running_loop()  # the sync API's own loop, marked as running
    yield playwright, loop, executable
    asyncio._set_running_loop(loop)
    playwright.stop()
    asyncio._set_running_loop(None)


@pytest.fixture(scope="session")
def browser(_playwright):
    playwright, loop, executable = _playwright
    browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield browser
    asyncio._set_running_loop(loop)
    browser.close()


@pytest.fixture(autouse=True)
def _loop_only_while_browsing(_playwright):
    """Between calls the sync API leaves its loop marked as running in this thread.
    Clear the mark after each browser test so that tests run later in this process
    (asyncio.run, async_to_sync, Django's async-safety check) see a plain thread."""
    _, loop, _ = _playwright
    asyncio._set_running_loop(loop)
    yield
    asyncio._set_running_loop(None)


class Problems:
    """What went wrong in the pages of one test, as the user's browser saw it."""

    def __init__(self):
        self.messages = []
        self.allowed_statuses = set()

    def console(self, msg):
        if msg.type != "error":
            return
        found = HTTP_ERROR.search(msg.text)
        if found and int(found.group(1)) in self.allowed_statuses:
            return
        location = msg.location or {}
        self.messages.append(f"console error: {msg.text} ({location.get('url', '')})")

    def page_error(self, error):
        self.messages.append(f"page error: {error}")


@pytest.fixture
def problems():
    return Problems()


@pytest.fixture
def context(browser, live_server, problems):
    context = browser.new_context(
        base_url=live_server.url, viewport=VIEWPORT, locale="en-GB", timezone_id="UTC"
    )
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)

    def watch(page):
        page.on("console", problems.console)
        page.on("pageerror", problems.page_error)

    context.on("page", watch)
    yield context
    context.close()


@pytest.fixture
def page(context, problems):
    page = context.new_page()
    page.allow_http_errors = lambda *codes: problems.allowed_statuses.update(codes)
    yield page
    assert not problems.messages, "the browser reported problems:\n" + "\n".join(problems.messages)


@pytest.fixture
def sign_in(page):
    """Sign in through the login form, as a user would."""

    def sign_in(username, password=None):
        page.goto("/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password or f"pw-{username}")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/incidents/\?queue="))
        return page

    return sign_in


@pytest.fixture
def screenshot(request):
    """Save a full-page screenshot under SCREENSHOT_DIR, named after the test."""

    def take(page, name):
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / f"{request.node.name}-{name}.png"
        # caret="hide" (the default) leaves style="" on inputs, which htmx then copies
        # while settling a swap: a CSP violation the app did not cause.
        page.screenshot(path=str(path), full_page=True, caret="initial")
        return path

    return take
