"""The documentation site opened in a real browser from its files: search works with no server,
and pictures of graphs fit the page. Needs the site built first (.ci/run builds it:
``uv run --group docs sphinx-build -W -b html docs build/docs``)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SITE = Path(__file__).resolve().parents[1] / "build" / "docs"


@pytest.fixture
def site():
    if not (SITE / "index.html").is_file():
        pytest.skip(f"the documentation site is not built ({SITE}): uv run --group docs sphinx-build -W -b html docs build/docs")
    return SITE


def test_search_finds_pages_from_the_files_alone(browser_page, site):
    page = browser_page
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto((site / "search.html").as_uri() + "?q=backward")
    page.locator("#search-results p.search-summary").wait_for(timeout=20_000)  # "Search finished, found N pages"
    page.wait_for_function("() => !document.querySelector('#search-results p.search-summary').textContent.includes('Searching')")
    titles = page.locator("#search-results ul.search li").all_inner_texts()
    assert len(titles) >= 5 and any("How the engine works" in t for t in titles), titles
    assert all(not url.startswith("http") for url in requests if "mathjax" not in url), requests


@pytest.mark.parametrize("path", ["index.html", "tutorials/notebooks/01_computation_graphs.html",
                                  "tutorials/notebooks/04_micrograd_demo.html"])
def test_pictures_fit_the_page_at_1000_px(browser_page, site, path):
    page = browser_page
    page.set_viewport_size({"width": 1000, "height": 900})
    page.goto((site / path).as_uri())
    overflow = page.evaluate("""() => {
        const pictures = Array.from(document.querySelectorAll("article img, article svg"))
            .filter((el) => el.tagName.toLowerCase() === "img" || !el.parentElement.closest("svg"));
        return pictures.map((el) => [el.getBoundingClientRect().width, el.closest("article").getBoundingClientRect().width])
            .filter(([width, room]) => width > room + 1);
    }""")
    pictures = page.locator("article img, article svg").count()
    assert pictures >= 1 and overflow == [], overflow
    # each picture of a graph shows its detail: an image links to itself at full size, a graph drawn
    # by scalargrad (an inline SVG) goes to full size in its scrolling box when clicked
    detail = page.evaluate("""() => Array.from(document.querySelectorAll(".cell_output img, img.fit-picture, .scalargrad-picture > svg"))
        .map((el) => el.tagName.toLowerCase() === "img" ? Boolean(el.closest("a") && el.closest("a").href === el.src)
                                                        : el.hasAttribute("onclick"))""")
    assert detail and all(detail), detail
    shrunk = page.evaluate("""() => Array.from(document.querySelectorAll(".scalargrad-picture > svg")).findIndex(
        (svg) => parseFloat(svg.getAttribute("width")) * 4 / 3 > svg.getBoundingClientRect().width + 1)""")
    if shrunk >= 0:  # a graph wider than the page: it was shrunk to fit
        graph = page.locator(".scalargrad-picture > svg").nth(shrunk)
        fitted = graph.bounding_box()["width"]
        graph.click()
        assert graph.bounding_box()["width"] > fitted  # full size, in a box that scrolls
        graph.click()
        assert graph.bounding_box()["width"] == fitted


def test_every_lesson_links_to_the_browser_course_and_a_download(browser_page, site):
    page = browser_page
    for notebook in sorted((site.parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        page.goto((site / "tutorials" / "notebooks" / f"{notebook.stem}.html").as_uri())
        run = page.locator("a.run-in-browser")
        assert run.get_attribute("href") == f"../../course/lab/index.html?path={notebook.name}"
        download = page.locator("a.download").first.get_attribute("href")
        assert download.endswith(notebook.name) and (site / "tutorials" / "notebooks" / download).resolve().is_file()
