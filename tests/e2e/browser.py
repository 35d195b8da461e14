"""Debian's Chromium driven by Playwright (never a downloaded browser), watched for errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        # `make test` installs it; a missing browser must fail loudly, not skip quietly.
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test does it)")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def watched_contexts(browser: Browser, base_url: str) -> Iterator[Callable[..., BrowserContext]]:
    """Fresh profiles (cookies, language); a page error, a CSP report, a failed asset or a
    missing static file fails the test when the block ends."""
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def make(locale: str = "fr-FR", **options: Any) -> BrowserContext:
        context = browser.new_context(base_url=base_url, locale=locale, **options)
        context.set_default_timeout(10_000)
        context.on("weberror", lambda e: problems.append(f"page error: {e.error}"))
        # A refused form answers 4xx on purpose (Chromium logs those as "Failed to load
        # resource"); anything else logged as an error — a CSP violation — is a bug.
        context.on(
            "console",
            lambda m: (
                problems.append(f"console: {m.text}")
                if m.type == "error" and not m.text.startswith("Failed to load resource")
                else None
            ),
        )
        context.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if "/static/" in r.url and r.status >= 400
                else None
            ),
        )
        # A navigation cancels what the previous page still loads (net::ERR_ABORTED): not a bug.
        context.on(
            "requestfailed",
            lambda r: (
                problems.append(f"failed: {r.url} {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "")
                else None
            ),
        )
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert not problems, problems
