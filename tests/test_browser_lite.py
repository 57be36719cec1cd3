"""The course's JupyterLite site as a student meets it: built offline, served on 127.0.0.1, every
notebook run in headless Chromium (Python in the page, Pyodide), and the XOR playground trained.

Run with ``uv run --group browser --group site pytest -m browser`` (``.ci/run`` does, as its own
step). The build takes its npm packages and wheels from build/lite/cache (filled from the package
registries on the first run). The timings measured on the way (first graph on screen, the
playground's steps per second) are written to test-artifacts/lite-timings.json: they are
reported, never asserted.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
TIMINGS = ARTIFACTS / "lite-timings.json"
STATUS = re.compile(r"step\s+(\d+).*?loss\s+([0-9.]+).*?accuracy\s+([0-9.]+)", re.S)
RUN_TIMEOUT = 420  # seconds for one notebook's cells in the browser (a hang guard)


def _lite():
    spec = importlib.util.spec_from_file_location("notebooks_lite", ROOT / "notebooks" / "lite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NOTEBOOKS = _lite().site_notebooks()  # all but the LOCAL_ONLY ones, which need compiled packages


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built into a temporary folder and served on 127.0.0.1 for this module's tests."""
    pytest.importorskip("jupyterlite_core", reason="the site dependency group is not installed")
    lite = _lite()
    out = tmp_path_factory.mktemp("lite") / "site"
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(ROOT / "notebooks" / "lite.py"), "build", "--out", str(out)],
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _record("build_seconds", round(time.monotonic() - started, 1))
    _record("site_megabytes", round(sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e6, 1))
    httpd = lite.server(out, 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _record(key: str, value) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    timings[key] = value
    TIMINGS.write_text(json.dumps(timings, indent=1, sort_keys=True))


def _open(page, site: str, name: str) -> float:
    """Open notebook ``name`` and wait for its Pyodide kernel to be idle; return the seconds that took."""
    started = time.monotonic()
    page.goto(f"{site}/lab/index.html?path={name}")
    page.locator(".jp-Notebook").wait_for(timeout=120_000)
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"Python \(Pyodide\) \| Idle")).wait_for(timeout=180_000)
    return time.monotonic() - started


def _run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _wait_until_every_cell_ran(page, cells: int) -> None:
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt")
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        texts = [t.strip() for t in prompts.all_inner_texts()]
        if len(texts) == cells and all(re.fullmatch(r"\[\d+\]:", t) for t in texts):
            return
        assert time.monotonic() < deadline, f"after {RUN_TIMEOUT} s the cells' prompts are {texts}"
        page.wait_for_timeout(500)


#: How many graph pictures the page shows: inline SVG with Graphviz nodes, or (how JupyterLab shows an
#: image/svg+xml output) an <img> of such an SVG that the browser decoded.
GRAPHS = """() => {
    const inline = [...document.querySelectorAll('.jp-OutputArea-output svg')].filter(s => s.querySelector('g.node'));
    const images = [...document.querySelectorAll('.jp-OutputArea-output img')].filter(img =>
        img.src.startsWith('data:image/svg+xml') && decodeURIComponent(img.src).includes('class="node"')
        && img.complete && img.naturalWidth > 0);
    return inline.length + images.length;
}"""


def _errors(page) -> list[str]:
    """Tracebacks and anything else written to stderr, as shown."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def _status(page) -> tuple[int, float, float]:
    text = page.locator(".playground-status").first.inner_text()
    match = STATUS.search(text)
    assert match, f"the playground's status line does not show a step, a loss and an accuracy: {text!r}"
    return int(match[1]), float(match[2]), float(match[3])


def test_the_site_opens_on_lesson_one(site, browser_page):
    page = browser_page
    page.goto(f"{site}/")
    assert page.locator("#lessons li").count() == len(NOTEBOOKS)
    page.locator("#start").click()
    page.locator(".jp-Notebook").wait_for(timeout=120_000)
    page.locator(".jp-Notebook .jp-MarkdownOutput h1", has_text="Computation graphs").first.wait_for(timeout=60_000)


#: Pictures wider than the output area they sit in (inline SVG, and images of SVG): none should be.
TOO_WIDE = """() => [...document.querySelectorAll('.jp-OutputArea-output svg, .jp-OutputArea-output img')]
    .filter((el) => el.tagName.toLowerCase() === 'img' || !el.parentElement.closest('svg'))
    .map((el) => [el.getBoundingClientRect().width, el.closest('.jp-OutputArea-output').getBoundingClientRect().width])
    .filter(([width, room]) => width > room + 1)"""


#: Run first by the page and by every script it loads (workers too): a browser without WebAssembly
#: JavaScript Promise Integration, as Firefox and Safari are (Chromium's flags no longer turn it off).
HIDE_JSPI = "delete WebAssembly.Suspending; delete WebAssembly.promising;\n"


@pytest.fixture
def page_without_jspi(tmp_path):
    """A page of headless Chromium with no service worker (it would fetch the scripts past the
    page's routes, which serve every script with HIDE_JSPI first)."""
    from conftest import chromium_page

    with chromium_page(tmp_path / "profile", service_workers="block") as page:
        yield page


def test_graphs_draw_in_a_browser_without_jspi(site, page_without_jspi):
    page = page_without_jspi
    page.add_init_script(HIDE_JSPI)

    def prefixed(route):
        response = route.fetch()
        route.fulfill(response=response, body=HIDE_JSPI + response.text())

    page.route(re.compile(r"\.m?js(\?.*)?$"), prefixed)
    notebook = next(nb for nb in NOTEBOOKS if nb.stem.startswith("02"))
    cells = sum(1 for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
    try:
        _open(page, site, notebook.name)
        assert page.evaluate("() => typeof WebAssembly.Suspending") == "undefined"
        _run_all(page)
        page.wait_for_function(f"({GRAPHS})() > 0", timeout=120_000)
        _wait_until_every_cell_ran(page, cells)
        assert _errors(page) == [] and page.get_by_text("could not draw the graph").count() == 0
        # drawn by the page's own viz.js (the kernel could not wait for it): the fallback's boxes
        assert page.locator("div.scalargrad-picture[id^='scalargrad-picture-'] svg g.node").count() > 0
        assert page.evaluate(TOO_WIDE) == []
    finally:
        page.screenshot(path=str(ARTIFACTS / "lite-without-jspi.png"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_runs_in_the_browser(site, browser_page, notebook):
    page = browser_page
    cells = sum(1 for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code")
    try:
        opened = _open(page, site, notebook.name)
        _run_all(page)
        started = time.monotonic()
        if notebook.stem.startswith(("01", "02")):
            page.wait_for_function(f"({GRAPHS})() > 0", timeout=120_000)
            _record(f"{notebook.stem}: open to first graph, seconds", round(opened + time.monotonic() - started, 1))
        _wait_until_every_cell_ran(page, cells)
        _record(f"{notebook.stem}: run all cells, seconds", round(time.monotonic() - started, 1))
        assert _errors(page) == []
        assert page.locator(".jp-OutputArea-output").count() > 0
        if notebook.stem.startswith(("01", "02")):
            drawn = sum(1 for c in json.loads(notebook.read_text())["cells"] if "draw(" in "".join(c["source"]))
            assert page.evaluate(GRAPHS) >= drawn
            assert page.get_by_text("could not draw the graph").count() == 0
            assert page.evaluate(TOO_WIDE) == []  # every picture fits its output area (the step-through too)
        assert page.get_by_text(re.compile(r"\buv (sync|run)\b")).count() == 0  # no advice that cannot work here
        if notebook.stem.startswith("03"):
            _train_the_playground_to_full_accuracy(page)
    finally:
        page.screenshot(path=str(ARTIFACTS / f"lite-{notebook.stem}.png"))


def _train_the_playground_to_full_accuracy(page) -> None:
    train = page.locator(".playground-controls button", has_text="Train")
    train.wait_for()
    step0, _, accuracy0 = _status(page)
    assert step0 == 0 and accuracy0 < 1.0
    assert page.locator(".playground-boundary svg circle.point").count() == 4
    assert page.locator(".playground-loss svg").count() == 1
    train.click()
    started = time.monotonic()
    while True:
        step, loss, accuracy = _status(page)
        if accuracy == 1.0:
            break
        assert time.monotonic() - started < 180, f"after 180 s of training: step {step}, loss {loss}, accuracy {accuracy}"
        page.wait_for_timeout(250)
    reached = time.monotonic() - started
    page.wait_for_timeout(5000)  # keep training a little longer, to measure a steady rate
    step_then, _, _ = _status(page)
    trained = time.monotonic() - started
    page.locator(".playground-controls button", has_text="Pause").click()
    page.locator(".playground-controls button", has_text="Train").wait_for()
    steps, _, accuracy = _status(page)
    assert accuracy == 1.0 and steps >= step_then
    _record("playground: seconds to accuracy 1.0 on XOR", round(reached, 1))
    _record("playground: steps per second in the browser (with live redraws)", round(step_then / trained, 1))
    assert page.locator(".playground-graph svg g.node").count() > 0
    assert page.locator(".playground-truth-table").inner_text().count("✓") == 4
