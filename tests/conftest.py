import contextlib
import gc
import os
import sys
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


@contextlib.contextmanager
def chromium_page(profile: Path, **context_options):
    """A page of headless Chromium with the empty profile folder ``profile``, closed at the end
    whatever happens; ``context_options`` go to Playwright's context (``service_workers="block"``).
    Skips the test without the browser dependency group or without /usr/bin/chromium."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the browser dependency group is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    profile.mkdir()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1400, "height": 1800}, **context_options,
        )  # fmt: skip
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


@pytest.fixture
def browser_page(tmp_path):
    """A page of headless Chromium (see ``chromium_page``), for tests marked ``browser``
    (``uv run --group browser pytest -m browser``)."""
    with chromium_page(tmp_path / "chromium-profile") as page:
        yield page


@pytest.fixture(params=["machine fonts", "no fonts"])
def machine_fonts(request, monkeypatch):
    """Run a test twice: with this machine's fonts, and as on a machine with no fonts at all
    (every resvg render skips the system fonts, so only fonts handed to it explicitly exist)."""
    if request.param == "no fonts":
        import resvg_py

        render = resvg_py.svg_to_bytes
        monkeypatch.setattr(resvg_py, "svg_to_bytes", lambda **options: render(**{**options, "skip_system_fonts": True}))
    return request.param


# The tests that use torch, run by one xdist worker as one unit of work: importing torch, its
# optimizers (torch._dynamo) and its autograd the first time costs several seconds of CPU a process.
# xdist's own way, `@pytest.mark.xdist_group` with --dist loadgroup, groups nothing on pytest >= 9.2:
# xdist 3.8 tags the group onto the node id, which pytest 9.2 no longer lets a plugin change
# (pytest-xdist#1386), so the tests went to both workers and both paid for torch.
TORCH_TESTS = (
    "tests/test_nn_torch.py::",
    "tests/test_nn_optim_torch.py::",
    "tests/test_lecture_micrograd.py::test_value_to_a_value_power_against_torch",
    "tests/test_compile.py::test_the_benchmark_steps_compute_what_eager_does",  # the bench's PyTorch peers
)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's
def pytest_xdist_make_scheduler(config, log):
    """--dist loadgroup (pyproject's addopts): every test is a unit of work of its own but the tests
    in TORCH_TESTS, which are one. The largest unit goes out first (xdist's loadscope ordering), so
    one worker starts on torch while the other takes the rest, and torch never waits for the end.
    ``-m notebooks`` (a few long tests) is scheduled by work stealing instead."""
    from xdist.scheduler import LoadGroupScheduling, WorkStealingScheduling

    if config.getvalue("dist") != "loadgroup":
        return None
    if config.getoption("markexpr").strip() == "notebooks":
        return WorkStealingScheduling(config, log)
    if not hasattr(LoadGroupScheduling, "_split_scope"):
        return None  # a later xdist without this extension point: its own scheduling, still correct

    class TorchGroupScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid):
            return "torch" if nodeid.startswith(TORCH_TESTS) else super()._split_scope(nodeid)

    return TorchGroupScheduling(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_collection(session):
    """No garbage collection while collecting: importing the libraries and test modules makes
    objects that live on, and the collector went over them again and again (11 full collections,
    0.4 s a worker). pytest_collection_finish collects once at the end."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def pytest_collection_finish(session):
    """Move everything collection imported (hypothesis, numpy, ...) out of the garbage
    collector's sight: the tests build graphs of up to 10^5 acyclic nodes, and every full
    collection would scan the libraries' objects again."""
    _freeze()


_modules_frozen = 0


def pytest_runtest_logfinish(nodeid, location):
    """The same for a library a test imported, once it brought many modules (torch, in the worker that
    runs the torch tests: until frozen, each full collection scanned its objects, 0.15 s each)."""
    if len(sys.modules) >= _modules_frozen + 100:
        _freeze()


def _freeze():
    global _modules_frozen
    gc.collect()
    gc.freeze()
    _modules_frozen = len(sys.modules)
