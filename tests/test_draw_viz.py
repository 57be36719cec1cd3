"""The "viz" backend (viz.js in a browser's Python, Pyodide): chosen there automatically, refused
elsewhere with a message; PNG refused there. Its JavaScript bridge is played by stand-ins here;
tests/test_browser_lite.py runs the real one in Chromium."""

import json
import re
import sys
import types

import pytest
from draw_helpers import lecture_f

from scalargrad import Value, draw
from scalargrad.pictures import render
from scalargrad.pictures.render import RenderError


@pytest.fixture
def in_pyodide(monkeypatch):
    """sys.platform as in Pyodide, and stand-ins for its modules js, pyodide.ffi and pyodide_js."""
    calls = {"imports": [], "renders": []}

    class Viz:
        def render(self, source, options):
            calls["renders"].append((source, options))
            if "syntax error" in source:
                error = types.SimpleNamespace(message="syntax error in line 1 near 'error'\n")
                return types.SimpleNamespace(status="failure", output=None, errors=[error])
            return types.SimpleNamespace(status="success", output="<svg>drawn by viz.js</svg>", errors=[])

    def js_eval(code):
        calls["imports"].append(code)
        return types.SimpleNamespace(instance=Viz)

    js = types.SimpleNamespace(
        eval=js_eval,
        URL=types.SimpleNamespace(new=lambda name, base: types.SimpleNamespace(href=base + name)),
        Object=types.SimpleNamespace(fromEntries=dict),
    )
    ffi = types.SimpleNamespace(JsException=type("JsException", (Exception,), {}), run_sync=lambda x: x,
                                to_js=lambda value, dict_converter=None: value)  # fmt: skip
    pyodide_js = types.SimpleNamespace(_api=types.SimpleNamespace(config=types.SimpleNamespace(indexURL="http://site/static/pyodide/")))
    monkeypatch.setitem(sys.modules, "js", js)
    monkeypatch.setitem(sys.modules, "pyodide", types.SimpleNamespace(ffi=ffi))
    monkeypatch.setitem(sys.modules, "pyodide.ffi", ffi)
    monkeypatch.setitem(sys.modules, "pyodide_js", pyodide_js)
    monkeypatch.setattr(render, "_viz", None)
    monkeypatch.setattr(sys, "platform", "emscripten")
    return calls


def test_in_pyodide_auto_draws_with_viz_js_loaded_once_beside_pyodide(in_pyodide):
    assert render.choose_backend() == "viz"
    f = lecture_f()
    assert draw(f).svg() == "<svg>drawn by viz.js</svg>"
    assert draw(f, edge_labels=True).svg() == "<svg>drawn by viz.js</svg>"
    assert in_pyodide["imports"] == ["import('http://site/static/pyodide/viz.js')"]
    sources = [source for source, _ in in_pyodide["renders"]]
    assert sources == [draw(f, backend="dot").source, draw(f, backend="dot", edge_labels=True).source]  # the same DOT
    assert in_pyodide["renders"][0][1] == {"format": "svg"}


def test_in_pyodide_a_graph_viz_js_rejects_is_a_render_error_with_its_message(in_pyodide):
    with pytest.raises(RenderError, match=r"viz.js failed to render svg: syntax error in line 1 near 'error'$"):
        render.render_svg("digraph { syntax error }")


def test_in_pyodide_png_is_refused_and_nothing_is_written(in_pyodide, tmp_path):
    picture = draw(lecture_f())
    with pytest.raises(RenderError, match=r"PNG export is not available in the browser .*save the picture as .svg"):
        picture.png()
    with pytest.raises(RenderError, match="PNG export is not available"):
        picture.save(tmp_path / "graph.png")
    assert list(tmp_path.iterdir()) == []
    assert picture.save(tmp_path / "graph.svg").read_text() == "<svg>drawn by viz.js</svg>"


def test_viz_outside_a_browser_is_refused_and_jupyter_shows_the_reason():
    with pytest.raises(RenderError, match=r"backend='viz' runs only in a browser's Python"):
        render.choose_backend("viz")
    picture = draw(lecture_f(), backend="viz")
    with pytest.raises(RenderError, match=r"backend='viz' runs only in a browser's Python \(Pyodide\); use 'dot' or 'wasm'"):
        picture.svg()
    assert "runs only in a browser's Python" in picture._repr_mimebundle_()["text/plain"]


def test_an_unknown_backend_names_the_four_that_exist():
    with pytest.raises(ValueError, match=r"backend must be one of 'auto', 'dot', 'wasm', 'viz', got 'vis'"):
        draw(lecture_f(), backend="vis")


def test_without_jspi_the_page_draws_the_picture(monkeypatch):
    """In a browser's Python that cannot wait for viz.js, the notebook gets HTML whose script draws the
    DOT with viz.js in the page; the DOT is JSON that no label can break out of."""
    from scalargrad.pictures import picture as picture_module

    monkeypatch.setattr(render, "viz_needs_the_page", lambda: True)
    monkeypatch.setattr(render, "viz_url", lambda: "http://127.0.0.1:8000/static/pyodide/viz.js")
    x = Value(1.0, "</script><script>alert(1)</script>")
    bundle = draw(x * 2.0)._repr_mimebundle_()
    html = bundle["text/html"]
    assert list(bundle) == ["text/html", "text/plain"] and bundle["text/plain"] == draw(x * 2.0).source
    assert html.count("<script") == 1 and html.count("</script>") == 1
    assert 'import("http://127.0.0.1:8000/static/pyodide/viz.js")' in html and "renderSVGElement(" in html
    box = re.search(r'<div class="scalargrad-picture" id="(scalargrad-picture-\d+)"', html)[1]
    assert f"document.getElementById({json.dumps(box)})" in html
    assert picture_module.drawn_in_the_page("digraph {}", "u") != picture_module.drawn_in_the_page("digraph {}", "u")  # new ids
