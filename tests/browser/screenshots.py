"""Screenshot of the incident queue for the documentation.

Run against an Accord that is already running with its demo data (``make run``):

    .venv/bin/python tests/browser/screenshots.py [--base-url http://127.0.0.1:8000]
                                                  [--out /some/other/path.png]

It signs in as the demo agent, opens the incident queue and saves a 1440x900
screenshot to docs/incident-queue.png (and to --out, if given). It uses Debian's
chromium (apt-get install chromium); it never downloads a browser.

Not a test: pytest collects only test_*.py files.
"""

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

from chromium import CHROMIUM_ARGS  # beside this script

REPO = Path(__file__).resolve().parents[2]
DOCS_SHOT = REPO / "docs" / "incident-queue.png"


def chromium_path():
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def take(base_url, username, password, targets, timeout_ms=15_000):
    from playwright.sync_api import expect, sync_playwright

    executable = chromium_path()
    if executable is None:
        sys.exit("screenshots need Debian's chromium: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                base_url=base_url.rstrip("/"),
                viewport={"width": 1440, "height": 900},
                locale="en-GB",
            )
            context.set_default_timeout(timeout_ms)
            page = context.new_page()
            page.goto("/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            if "/login/" in page.url:
                sys.exit(
                    f"could not sign in as {username!r} at {base_url}: is Accord running "
                    "with its demo data (make run)?"
                )
            if "/incidents/" not in page.url:
                page.goto("/incidents/")
            expect(page).to_have_url(re.compile(r"/incidents/\?"))
            expect(page.locator("table.table-queue")).to_be_visible()
            # Fonts and icons loaded, nothing still moving.
            page.evaluate("document.fonts.ready")
            page.mouse.move(0, 0)
            for target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(target), caret="hide", animations="disabled")
                print(f"saved {target}")
        finally:
            browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, help="also save the screenshot here")
    parser.add_argument("--username", default="agent")
    parser.add_argument("--password", default="accord-demo")
    args = parser.parse_args(argv)
    targets = [DOCS_SHOT] + ([args.out.resolve()] if args.out else [])
    take(args.base_url, args.username, args.password, targets)


if __name__ == "__main__":
    main()
