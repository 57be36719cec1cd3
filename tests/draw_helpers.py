"""Reading DOT, SVG and PNG back, and the lectures' graph, for the drawing tests."""

import html
import re

from scalargrad import Value

_LABEL = r'label=("(?:[^"\\]|\\.)*"|[^\s\]]+)'
NODE = re.compile(r"^\t+(\w+) \[" + _LABEL + r"(.*)\]$", re.M)
EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[" + _LABEL + r"\])?$", re.M)


def lecture_graph():
    """The lectures' f = (x + y) * z at x = -2, y = 5, z = -4, with q = x + y and f labelled,
    before backward(): (f, (x, y, z))."""
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return f, (x, y, z)


def lecture_f():
    """The lectures' f = (x + y) * z at x = -2, y = 5, z = -4, after backward()."""
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    f = (x + y) * z
    f.label = "f"
    f.backward()
    return f


def _unquote(label):
    return label[1:-1] if label and label.startswith('"') else label


def dot_nodes(source):
    """{node name: (label as written in the DOT, the rest of its attributes)}."""
    return {m[1]: (_unquote(m[2]), m[3]) for m in NODE.finditer(source)}


def dot_edges(source):
    """[(tail, head, label or None)] in the order the DOT lists them."""
    return [(m[1], m[2], _unquote(m[3])) for m in EDGE.finditer(source)]


def svg_texts(svg):
    """Every text drawn in an SVG (its tspans joined), unescaped, in document order."""
    return [html.unescape(re.sub(r"<[^>]*>", "", t)) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)]


def svg_titles(svg):
    """The Graphviz names of the SVG's nodes and edges (its <title> elements)."""
    return [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", svg)]


_TEXT = re.compile(r"<text\b([^>]*)>([^<]*)</text>")
_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


def without_text(svg):
    """The SVG with every <text> element taken out: the picture its PNG would be if no text were drawn."""
    return _TEXT.sub("", svg)


def png_darkness(png):
    """{(column, row) of every dark pixel} of PNG bytes (grey level below 160 over a white page)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png))
    page = Image.new("RGBA", image.size, "white")
    grey = Image.alpha_composite(page, image.convert("RGBA")).convert("L")
    width = image.size[0]
    return {(i % width, i // width) for i, level in enumerate(grey.tobytes()) if level < 160}


def texts_missing_from_png(png, svg, text_free_png):
    """The SVG's texts that the PNG does not draw, checked one by one.

    ``text_free_png`` is the PNG of ``without_text(svg)``. For each <text>, the PNG must have
    dark pixels that the text-free PNG lacks inside the box where the SVG puts that text
    (Graphviz gives x, the anchor and the baseline y, in points, inside one translate()).
    """
    view_width = float(re.search(r'viewBox="[\d.-]+ [\d.-]+ ([\d.]+) ', svg)[1])
    shift_x, shift_y = map(float, re.search(r"translate\(([\d.-]+) ([\d.-]+)\)", svg).groups())
    from_text = png_darkness(png) - png_darkness(text_free_png)
    png_width = _png_width(png)
    pixels_per_point = png_width / view_width
    missing = []
    for attributes, content in _TEXT.findall(svg):
        attr = dict(_ATTR.findall(attributes))
        text = html.unescape(content)
        if not text.strip():
            continue
        size = float(attr["font-size"])
        width = 0.6 * size * len(text)
        x, y = float(attr["x"]) + shift_x, float(attr["y"]) + shift_y
        left = {"middle": x - width / 2, "end": x - width}.get(attr.get("text-anchor"), x)
        box = [round(v * pixels_per_point) for v in (left, y - size, left + width, y + 0.3 * size)]
        inside = sum(1 for (c, r) in from_text if box[0] <= c <= box[2] and box[1] <= r <= box[3])
        if inside < len(text.replace(" ", "")):  # less than one dark pixel per letter
            missing.append(text)
    return missing


def _png_width(png):
    import struct

    return struct.unpack(">I", png[16:20])[0]
