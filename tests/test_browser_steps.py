"""The backprop step-through page of ``save_steps`` opened in a real browser, from a file:
no server, no network. Run with ``uv run --group browser pytest -m browser``."""

import pytest

from scalargrad import Value, save_steps, topological_order

pytestmark = pytest.mark.browser


def test_the_steps_page_walks_through_backprop_with_buttons_keys_and_slider(browser_page, tmp_path):
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    f = (x + y) * z
    f.label = "f"
    n = len(topological_order(f))
    page_file = save_steps(f, tmp_path / "steps.html")
    requests = []
    page = browser_page
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_file.as_uri())

    caption = page.locator("#caption")
    visible = page.locator("figure.frame:not([hidden]) svg")
    assert caption.inner_text().startswith(f"step 1/{n}: 'f' has grad 1")
    assert visible.count() == 1 and visible.locator("g.node").count() > 0
    first_frame = visible.inner_html()

    page.locator("#next").click()
    assert caption.inner_text().startswith(f"step 2/{n}:")
    assert visible.count() == 1 and visible.inner_html() != first_frame

    page.keyboard.press("ArrowRight")
    assert caption.inner_text().startswith(f"step 3/{n}:")
    page.locator("#prev").click()
    assert caption.inner_text().startswith(f"step 2/{n}:")

    page.locator("#slider").fill(str(n))  # dragging the slider to the end
    assert caption.inner_text().startswith(f"step {n}/{n}:")
    page.keyboard.press("ArrowRight")  # past the last step stays on it
    assert caption.inner_text().startswith(f"step {n}/{n}:")
    assert all(url.startswith("file://") for url in requests), requests
