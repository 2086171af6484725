"""The storefront and back office in headless Chromium, against the platform the e2e harness runs.

The session fixtures (vhost, databases, keys, every Procfile process, ``client``, ``admin_token``,
``register_customer``, ``product``) are the e2e ones, imported so pytest registers them here too:
one harness, three suites. The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or
``SHOP_CHROMIUM``) driven by Playwright; ``playwright install`` is never needed. Every page must
load without a console error: a Content-Security-Policy violation is one, so the pages' policy is
checked by every test. axe-core (vendored, MPL-2.0) checks accessibility.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.e2e.conftest import *  # noqa: F403
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, CUSTOMER_PASSWORD, Platform

__all__ = ["ADMIN_EMAIL", "ADMIN_PASSWORD", "CUSTOMER_PASSWORD"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
# Screenshots go to docs/screenshots with SHOP_UPDATE_SCREENSHOTS=1 (what README shows), else to a
# temporary folder: a run does not leave the work tree changed.
UPDATE_SCREENSHOTS = os.environ.get("SHOP_UPDATE_SCREENSHOTS") == "1"
MEASURES: dict[str, Any] = {}
# A busy machine (the whole platform, the browser and other suites on two cores) can take seconds
# for one step of a saga; waits are for something to appear, so a longer bound costs nothing.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set SHOP_CHROMIUM)")
    # Root (CI containers) cannot use Chromium's sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield launched
    launched.close()


@pytest.fixture
def new_page(browser: Browser, platform: Platform) -> Iterator[Callable[[], Page]]:
    """``new_page()``: a page in a fresh browser context (own storage, cold cache) on the gateway,
    failing the test if any page logs a console error (CSP violations included)."""
    contexts, errors = [], []

    def make() -> Page:
        context = browser.new_context(base_url=platform.base_url, viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(f"{page.url}: {message.text}")
        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], "the pages logged errors:\n" + "\n".join(errors)


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


def check_accessibility(page: Page, name: str) -> None:
    """No axe-core violation of WCAG 2.1 A/AA on the page as it is now."""
    # evaluate() runs through the DevTools protocol, which the page's CSP does not govern.
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate("""async () => {
        const tags = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
        const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    assert result == [], f"{name}: axe violations\n{json.dumps(result, indent=1)}"
    MEASURES.setdefault("accessibility checked", []).append(name)


def screenshot(page: Page, name: str) -> Path:
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "shop-screenshots"
    folder = ROOT / "docs" / "screenshots" if UPDATE_SCREENSHOTS else scratch
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, email: str, password: str, start: str = "/") -> None:
    """Through the code flow: the page's "Sign in" link, the gateway's sign-in page, back signed in."""
    page.goto(start)
    page.get_by_role("link", name="Sign in", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/api/v1/oauth/authorize\?"))
    fill_sign_in_page(page, email, password)
    expect(page.get_by_role("link", name="Sign out")).to_be_visible()


def fill_sign_in_page(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in and allow").click()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURES:
        terminalreporter.section("storefront measurements")
        for name, value in MEASURES.items():
            terminalreporter.write_line(f"{name}: {value}")

