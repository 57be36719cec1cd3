"""Reading DOT and SVG back, for the drawing tests."""

import html
import re

_LABEL = r'label=("(?:[^"\\]|\\.)*"|[^\s\]]+)'
NODE = re.compile(r"^\t+(\w+) \[" + _LABEL + r"(.*)\]$", re.M)
EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[" + _LABEL + r"\])?$", re.M)


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
