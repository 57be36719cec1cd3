import gc
import os
from pathlib import Path

import pytest

from scalargrad import Value

try:
    from hypothesis import settings
except ImportError:  # the plain-pip route's two quick files do not need it
    pass
else:
    # CI (.ci/run sets CI=1) draws the same examples on every run, so a red CI is a change's doing,
    # not the luck of the draw; a developer's runs keep exploring, and keep what they find in .hypothesis/.
    settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI"):
        settings.load_profile("ci")


@pytest.fixture
def values():
    """Make labelled leaves: values(x=-2, y=5) -> (Value x, Value y)."""

    def make(**named):
        return tuple(Value(v, k) for k, v in named.items())

    return make


CHROMIUM = "/usr/bin/chromium"  # Debian's chromium: Playwright's own browser download does not work here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page(tmp_path):
    """A page of headless Chromium with an empty profile, closed at the end whatever happens.

    For tests marked ``browser`` (``uv run --group browser pytest -m browser``); skipped
    without the browser dependency group or without /usr/bin/chromium.
    """
    playwright = pytest.importorskip("playwright.sync_api", reason="the browser dependency group is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport={"width": 1400, "height": 1800}
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


@pytest.fixture(params=["machine fonts", "no fonts"])
def machine_fonts(request, monkeypatch):
    """Run a test twice: with this machine's fonts, and as on a machine with no fonts at all
    (every resvg render skips the system fonts, so only fonts handed to it explicitly exist)."""
    if request.param == "no fonts":
        import resvg_py

        render = resvg_py.svg_to_bytes
        monkeypatch.setattr(resvg_py, "svg_to_bytes", lambda **options: render(**{**options, "skip_system_fonts": True}))
    return request.param


def pytest_collection_finish(session):
    """Move everything collection imported (torch, hypothesis, numpy, ...) out of the garbage
    collector's sight: the tests build graphs of up to 10^5 acyclic nodes, and every full
    collection would scan the libraries' objects again."""
    gc.collect()
    gc.freeze()
