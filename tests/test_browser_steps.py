"""The backprop step-through page of ``save_steps`` opened in a real browser, from a file:
no server, no network. Run with ``uv run --group browser pytest -m browser``."""

import pytest

from scalargrad import Value, save_steps, topological_order

pytestmark = pytest.mark.browser

SHOWN = """() => {
  const label = (g) => g.querySelector("text").textContent;
  const nodes = Array.from(document.querySelectorAll("g.node")).filter((g) => g.querySelector(".grad-value"));
  const visible = (el) => getComputedStyle(el).visibility === "visible";
  return {
    grads: nodes.filter((g) => visible(g.querySelector(".grad-value"))).map(label).sort(),
    current: nodes.filter((g) => getComputedStyle(g.querySelector("polygon")).fill === "rgb(253, 230, 138)").map(label),
    upstream: Array.from(document.querySelectorAll(".upstream")).filter(visible).length,
  };
}"""


def test_the_steps_page_walks_through_backprop_with_buttons_keys_and_slider(browser_page, tmp_path):
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    n = len(topological_order(f))
    page_file = save_steps(f, tmp_path / "steps.html")
    requests = []
    page = browser_page
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_file.as_uri())

    caption = page.locator("#caption")
    assert page.locator("svg").count() == 1
    assert caption.inner_text().startswith(f"step 1/{n}: 'f' has grad 1")
    assert page.evaluate(SHOWN) == {"grads": ["f"], "current": ["f"], "upstream": 2}  # the * gate's two inputs

    page.locator("#next").click()
    assert caption.inner_text().startswith(f"step 2/{n}:")
    assert page.evaluate(SHOWN) == {"grads": ["f", "z"], "current": ["z"], "upstream": 2}

    page.keyboard.press("ArrowRight")
    assert caption.inner_text().startswith(f"step 3/{n}:")
    assert page.evaluate(SHOWN) == {"grads": ["f", "q", "z"], "current": ["q"], "upstream": 4}
    page.locator("#prev").click()
    assert caption.inner_text().startswith(f"step 2/{n}:")
    assert page.evaluate(SHOWN)["grads"] == ["f", "z"]  # going back hides q's gradient again

    page.locator("#slider").fill(str(n))  # dragging the slider to the end
    assert caption.inner_text().startswith(f"step {n}/{n}:")
    assert page.evaluate(SHOWN) == {"grads": ["f", "q", "x", "y", "z"], "current": ["x"], "upstream": 4}
    page.keyboard.press("ArrowRight")  # past the last step stays on it
    assert caption.inner_text().startswith(f"step {n}/{n}:")
    assert all(url.startswith("file://") for url in requests), requests


def test_a_hostile_label_is_shown_as_written_and_breaks_nothing(browser_page, tmp_path):
    label = "<!--<script></script><script>alert(1)</script>"
    x = Value(2.0, label)
    page_file = save_steps(x * 3, tmp_path / "steps.html")
    dialogs = []
    page = browser_page
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(page_file.as_uri())
    page.locator("#slider").fill("3")
    assert page.locator("#caption").inner_text().startswith(f"step 3/3: '{label}' has grad 3")
    assert page.evaluate(SHOWN)["current"] == [label]
    assert page.locator("script").count() == 1 and dialogs == []


def test_at_1000_px_the_current_node_is_in_view_at_every_step(browser_page, tmp_path):
    """A graph far wider than the page (a 30-term sum) is fitted to it, so every step's node is seen."""
    xs = [Value(float(i), f"x{i}") for i in range(30)]
    total = sum(x * x for x in xs)
    page_file = save_steps(total, tmp_path / "wide.html")
    page = browser_page
    page.set_viewport_size({"width": 1000, "height": 800})
    page.goto(page_file.as_uri())
    n = len(topological_order(total))
    current = """() => {
        const figure = document.querySelector("#picture").getBoundingClientRect();
        const node = Array.from(document.querySelectorAll("g.node")).find(
            (g) => g.querySelector("polygon") && getComputedStyle(g.querySelector("polygon")).fill === "rgb(253, 230, 138)");
        const box = node.getBoundingClientRect();
        return [box.left >= figure.left - 1 && box.right <= figure.right + 1, figure.width <= document.documentElement.clientWidth];
    }"""
    for step in range(1, n + 1, 7):
        page.locator("#slider").fill(str(step))
        assert page.evaluate(current) == [True, True], step
