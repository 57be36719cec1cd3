"""PNG pictures carry their text: every label, data and grad is drawn, in the shipped Arimo font, on any machine."""

import io
import re
import shutil

import pytest
from draw_helpers import lecture_f, png_darkness, svg_texts, texts_missing_from_png, without_text
from PIL import Image

from scalargrad import Value, draw
from scalargrad.pictures import render
from scalargrad.pictures.render import RenderError

BACKENDS = ["wasm", pytest.param("dot", marks=pytest.mark.skipif(shutil.which("dot") is None, reason="no Graphviz 'dot'"))]


@pytest.fixture(scope="module", params=BACKENDS)
def lecture(request):
    """(Picture, its SVG, the PNG of that SVG with its text taken out), once per backend."""
    picture = draw(lecture_f(), edge_labels=True, backend=request.param)
    svg = picture.svg()
    return picture, svg, render.render_png(without_text(svg))


def test_the_checker_sees_missing_text(lecture):
    _, svg, text_free = lecture
    assert texts_missing_from_png(text_free, svg, text_free) == svg_texts(svg)
    assert len(svg_texts(svg)) == 20  # 14 in the value nodes, 2 operations, 4 edge labels
    no_edge_labels = render.render_png(re.sub(r"<text[^>]*>local [^<]*</text>", "", svg))
    assert texts_missing_from_png(no_edge_labels, svg, text_free) == [
        "local 1 × -4 = -4", "local 1 × -4 = -4", "local -4 × 1 = -4", "local 3 × 1 = 3"]


def test_picture_png_draws_every_text(lecture, machine_fonts):
    picture, svg, text_free = lecture
    assert texts_missing_from_png(picture.png(), svg, text_free) == []


def test_save_png_draws_every_text(lecture, machine_fonts, tmp_path):
    picture, svg, text_free = lecture
    assert texts_missing_from_png(picture.save(tmp_path / "f.png").read_bytes(), svg, text_free) == []


def test_text_needs_no_font_of_the_machine(lecture):
    # A machine with no fonts at all: resvg gets only the shipped Arimo.
    _, svg, text_free = lecture
    only_arimo = render.render_png(svg, system_fonts=False)
    assert texts_missing_from_png(only_arimo, svg, text_free) == []
    # ...and the machine's fonts change nothing: the text is Arimo either way.
    assert png_darkness(only_arimo) == png_darkness(render.render_png(svg))


@pytest.mark.parametrize("family", ["Helvetica,sans-Serif", "sans-serif", "serif", "Times", "No Such Font"])
def test_whatever_family_the_svg_names_the_png_uses_arimo(family):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><rect width="200" height="40" fill="white"/>'
           '<text x="10" y="28" font-family="{}" font-size="20">data -12 grad 1</text></svg>')
    arimo = render.render_png(svg.format("Arimo"), system_fonts=False)
    assert len(png_darkness(arimo)) > 300
    assert render.render_png(svg.format(family)) == arimo


def test_letters_arimo_lacks_leave_the_rest_of_the_text():
    picture = draw(Value(2.0, "가중치 w") * Value(3.0, "x"), backend="wasm")
    svg = picture.svg()
    missing = texts_missing_from_png(render.render_png(svg, system_fonts=False), svg, render.render_png(without_text(svg)))
    assert missing == []  # the 'w' and the other texts are drawn; Hangul needs a system font


@pytest.mark.parametrize("scale", [1, 2, 0.5])
def test_scale_sets_the_png_size_and_its_recorded_resolution(lecture, scale):
    picture, svg, _ = lecture
    image = Image.open(io.BytesIO(picture.png(scale)))
    view_width, view_height = (float(v) for v in svg.split('viewBox="')[1].split('"')[0].split()[2:])
    assert abs(image.size[0] - view_width * 96 / 72 * scale) <= 1
    assert abs(image.size[1] - view_height * 96 / 72 * scale) <= 1
    assert image.info["dpi"] == pytest.approx((96 * scale, 96 * scale), abs=0.1)
    image.load()  # the pHYs chunk leaves the PNG valid (CRC checked by Pillow)


@pytest.mark.parametrize("scale, error", [(0, ValueError), (-1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
                                          (17, ValueError), ("2", TypeError), (True, TypeError), (None, TypeError)])
def test_a_bad_scale_is_refused_naming_it(scale, error):
    with pytest.raises(error, match=r"scale must be"):
        draw(lecture_f(), backend="wasm").png(scale)


def test_system_fonts_must_be_a_flag():
    with pytest.raises(TypeError, match=r"system_fonts must be True or False, got str 'no'"):
        render.render_png("<svg/>", system_fonts="no")


def test_a_missing_font_package_is_a_render_error_and_writes_nothing(monkeypatch, tmp_path):
    import fontpkg

    def not_installed(name, *args, **kwargs):
        raise fontpkg.FamilyNotInstalled(name.lower())

    monkeypatch.setattr(fontpkg, "path", not_installed)
    target = tmp_path / "f.png"
    target.write_bytes(b"the user's old file")
    with pytest.raises(RenderError, match=r"needs the Arimo font from the fontpkg-arimo package"):
        draw(lecture_f(), backend="wasm").save(target)
    assert target.read_bytes() == b"the user's old file"


def _machine_has_font_for(char):
    if shutil.which("fc-list") is None:
        return False
    import subprocess

    return bool(subprocess.run(["fc-list", f":charset={ord(char):x}"], capture_output=True, text=True).stdout.strip())


@pytest.mark.skipif(not _machine_has_font_for("⊗"), reason="no font of this machine has ⊗")
def test_letters_arimo_lacks_come_from_a_font_of_the_machine():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="120" height="40" fill="white"/>'
           '<text x="10" y="28" font-family="Helvetica,sans-Serif" font-size="20">⊗⊗⊗</text></svg>')
    # Arimo has no ⊗: alone it draws its empty "missing letter" boxes; with the machine's fonts, the real sign.
    assert png_darkness(render.render_png(svg)) != png_darkness(render.render_png(svg, system_fonts=False))
