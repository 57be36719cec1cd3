"""``Picture``: a drawn graph, shown by Jupyter and saved as .svg, .png, .dot or .pdf."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from ..files import require_folder, write_atomically
from . import render

#: File extensions ``Picture.save`` writes, and what it writes for each.
FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot", ".pdf": "pdf"}


class Picture:
    """A graph picture: ``.source`` is its DOT text; it renders on demand and caches the SVG.

    ``backend`` is ``"auto"`` (system ``dot`` if on PATH, else the built-in WebAssembly
    Graphviz; viz.js in a browser's Python), ``"dot"``, ``"wasm"`` or ``"viz"``; a render taking
    longer than ``time_limit`` seconds (``None``: no limit) is stopped with ``RenderError``.
    """

    def __init__(self, source: str, backend: str = "auto", time_limit: float | None = render.DEFAULT_TIME_LIMIT,
                 format: str = "svg"):
        render.check_backend(backend)
        render.check_time_limit(time_limit)
        self.source = source
        self.backend = backend
        self.time_limit = time_limit
        self.format = format  # what render() writes unless told otherwise, as a graphviz.Digraph's format
        self._svg: str | None = None

    def svg(self) -> str:
        """The picture as SVG text (rendered once, then cached)."""
        if self._svg is None:
            self._svg = render.render_svg(self.source, self.backend, self.time_limit)
        return self._svg

    def png(self, scale: float = 2.0) -> bytes:
        """The picture as PNG bytes, rasterised from the SVG at ``scale`` pixels per SVG pixel (2 = 192 dpi)."""
        return render.render_png(self.svg(), scale)

    def pdf(self) -> bytes:
        """The picture as PDF bytes (needs the system ``dot``)."""
        return render.render_pdf(self.source, self.time_limit)

    def save(self, path) -> Path:
        """Write the picture to ``path``, in the format its extension names (.svg .png .dot .gv .pdf).

        The file is written whole or not at all: the picture is made first, then
        written to a temporary file that replaces ``path``.
        """
        path = Path(path)
        fmt = FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(
                f"cannot tell the picture format from {str(path)!r}: "
                f"the file name must end in one of {', '.join(FORMATS)}"
            )
        require_folder(path)
        data = {"svg": lambda: self.svg().encode("utf-8"), "png": self.png, "pdf": self.pdf,
                "dot": lambda: self.source.encode("utf-8")}[fmt]()
        write_atomically(path, data)
        return path

    def render(self, filename: str = "graph", format: str | None = None) -> str:
        """micrograd/graphviz-style ``render``: write ``filename.format`` (the picture's ``format``
        unless given: ``draw_dot(root, format="png").render("graph")`` writes graph.png) and return its name."""
        target = f"{filename}.{format or self.format}"
        self.save(target)
        return target

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        # Jupyter must show a picture or a sentence, never a traceback. Front ends that show HTML
        # (JupyterLab, VS Code, the docs) get the picture fitted to the output's width; the SVG
        # itself is there for the others, and for files.
        if self.backend in ("auto", "viz") and render.viz_needs_the_page():
            return {"text/html": drawn_in_the_page(self.source, render.viz_url()), "text/plain": self.source}
        try:
            svg = self.svg()
        except Exception as error:  # noqa: BLE001 - any failure becomes a readable message
            return {"text/plain": f"(could not draw the graph: {error})\n{self.source}"}
        return {"text/html": fitted(svg), "image/svg+xml": svg}

    def _repr_svg_(self) -> str | None:
        try:
            return self.svg()
        except Exception:  # noqa: BLE001
            return None

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<Picture: {self.source.count(chr(10))} lines of DOT; .svg(), .save('graph.svg')>"


#: A click on a fitted picture shows it at full size (scroll to pan); another click fits it again.
_ZOOM = "this.style.maxWidth = this.style.maxWidth === 'none' ? '100%' : 'none'"
#: A fitted picture's own style: the container's width at most, its proportions kept.
_FIT = "max-width: 100%; height: auto; cursor: zoom-in"


def fitted(svg: str) -> str:
    """``svg`` as HTML that fits its container's width (scaled, keeping its proportions); a click
    toggles full size, inside a box that scrolls. Where HTML is sanitized (an untrusted notebook)
    the click does nothing and the picture still fits."""
    start = svg.index("<svg")
    tag_end = svg.index(">", start)
    opened = svg[start:tag_end] + f' style="{_FIT}" onclick="{_ZOOM}"'
    return f'<div class="scalargrad-picture" style="overflow: auto">{opened}{svg[tag_end:]}</div>'


_pictures_in_the_page = itertools.count(1)


def drawn_in_the_page(source: str, viz_url: str) -> str:
    """HTML whose script draws the DOT ``source`` with viz.js in the page itself, fitted as
    :func:`fitted` fits it: for a browser's Python that cannot wait for viz.js to load (no
    WebAssembly JavaScript Promise Integration, as in Firefox and Safari). The page runs the
    script when it shows a trusted output (JupyterLab, JupyterLite); the DOT is JSON in it."""
    box = f"scalargrad-picture-{next(_pictures_in_the_page)}"
    return f"""<div class="scalargrad-picture" id="{box}" style="overflow: auto"></div>
<script type="module">
const box = document.getElementById({script_json(box)});
try {{
  const viz = await (await import({script_json(viz_url)})).instance();
  const svg = viz.renderSVGElement({script_json(source)});
  svg.setAttribute("style", {script_json(_FIT)});  // as fitted() writes it
  svg.setAttribute("onclick", {script_json(_ZOOM)});
  box.appendChild(svg);
}} catch (error) {{
  box.textContent = "(could not draw the graph: " + error + ")";
}}
</script>"""


def script_json(data) -> str:
    """``data`` as JSON that is safe inside an HTML ``<script>``: no ``<`` (nor ``>``, ``&``) reaches it.

    Written as ``\\u003c`` (``\\u003e``, ``\\u0026``), which JavaScript reads back as the same
    characters, so no text (``</script>``, ``<!--``) can end the script or change how it is parsed;
    the line separators U+2028 and U+2029, which older JavaScript refuses in strings, likewise.
    """
    return json.dumps(data, ensure_ascii=False).translate(_SCRIPT_ESCAPES)


_SCRIPT_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}
