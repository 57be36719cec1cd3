"""The course as a static JupyterLite site: the notebooks, a Python in the browser (Pyodide), nothing to install.

    uv run --group site python notebooks/lite.py build            # -> build/lite/site (about 30 MB)
    uv run --group site python notebooks/lite.py serve            # build if needed, then http://127.0.0.1:8000/
    uv run --group site python notebooks/lite.py build --out DIR  # somewhere else (any static host serves it)
    uv run --group site python notebooks/lite.py build --published  # every notebook; see below

Everything comes from the package registries, nothing else from the network, and the site
itself fetches nothing from outside when it runs:

* the JupyterLite app and its Pyodide kernel: the ``site`` dependency group (PyPI);
* the Pyodide runtime and viz.js (Graphviz compiled to WebAssembly, which draws the graphs
  in the page): the npm packages ``pyodide`` and ``@viz-js/viz``, fetched with ``npm``;
* scalargrad and nn: a wheel of this checkout; the pure-Python packages they and the
  kernel need (IPython, ipywidgets, graphviz, tqdm, ...): wheels from PyPI, at the versions
  Pyodide's own distribution pins where it has them.

Those wheels are listed in the site's own ``pyodide-lock.json`` and loaded when the kernel
starts, so ``import scalargrad`` works in the first cell with no ``%pip``; PyPI fallback is off.
Downloads are cached in ``build/lite/cache`` (npm packages and PyPI wheels by version).

That site leaves out the notebooks that need compiled packages (LOCAL_ONLY). ``--published``
builds the site to put on the web, with every notebook: its lock also lists numpy, matplotlib and
scikit-learn, with everything they depend on, as Pyodide's own distribution has them, their
``file_name`` the absolute address of the file there (``--packages-from``, by default Pyodide's
CDN for the pinned version). The browser fetches those from that address when a notebook needs
them; the build itself still reaches only the registries.
"""

from __future__ import annotations

import argparse
import email.parser
import functools
import hashlib
import html
import http.server
import json
import re
import shutil
import subprocess
import sys
import urllib.parse
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The project's distribution name (its wheel, its pyodide-lock.json entry); the import names are scalargrad and nn.
PROJECT = "scalargrad-lab"
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build" / "lite"
CACHE = BUILD / "cache"
DEFAULT_OUT = BUILD / "site"

#: npm packages, exact versions: the Pyodide the kernel was made for (jupyterlite-pyodide-kernel 0.8.6) and viz.js.
NPM_PACKAGES = {"pyodide": "314.0.6", "@viz-js/viz": "3.31.0"}
#: What the notebooks import beyond the standard library; pip resolves the rest for Pyodide's platform.
#: matplotlib-inline is the backend the kernel sets for matplotlib (MPLBACKEND), so plt.show() draws in the page.
REQUIREMENTS = ["ipython", "jedi", "comm", "ipywidgets", "micropip", "packaging", "matplotlib-inline"]
#: Provided by the kernel itself (its own wheels, some of them shims): never taken from PyPI.
FROM_KERNEL = {"ipykernel", "piplite", "pyodide-kernel", "widgetsnbextension"}
#: Loaded as the kernel starts (with everything they depend on); the kernel then skips its own piplite installs.
PRELOAD = ["micropip", "piplite", "ipykernel", "comm", "pyodide-kernel", "jedi", "ipython", "ipywidgets", PROJECT]
#: The site's Python: Pyodide 314 is CPython 3.14 on emscripten.
PYODIDE_PLATFORM, PYODIDE_PYTHON = "wasm32-pyodide2025", "3.14"
KERNEL_PLUGIN = "@jupyterlite/pyodide-kernel-extension:kernel"
#: Notebooks left out of the offline site, and why: they need compiled packages that are not on PyPI
#: for Pyodide nor in the npm package (numpy for compile's batches, matplotlib, scikit-learn), so only
#: the published site, which takes them from Pyodide's distribution, carries them. torch is optional.
LOCAL_ONLY = {
    "05_compile": "numpy (compile's batches) and matplotlib",
    "06_lecture_labs": "numpy, matplotlib, scikit-learn's digits and optionally torch",
}
#: Pyodide's own full distribution of a version: the address Pyodide's docs give, and its loader's default.
DISTRIBUTION = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"
#: What the published site lists from that distribution, with everything they depend on. The kernel
#: loads a package when a cell imports it (by the lock's "imports"), so nothing else is needed ...
FROM_DISTRIBUTION = ["numpy", "matplotlib", "scikit-learn"]
#: ... but for scikit-learn, whose digits file nn.data.digits reads without importing it (so no cell's
#: imports name it): the published site loads it (with scipy, numpy) as it starts.
PUBLISHED_PRELOAD = ["scikit-learn"]


def site_notebooks(published: bool = False) -> list[Path]:
    """The notebooks the site carries: all of notebooks/ if ``published``, else all but LOCAL_ONLY."""
    return [nb for nb in sorted(NOTEBOOKS.glob("*.ipynb")) if published or nb.stem not in LOCAL_ONLY]


def distribution_url(version: str = NPM_PACKAGES["pyodide"]) -> str:
    """Pyodide's own full distribution of ``version`` (its wheels and their pyodide-lock.json)."""
    return DISTRIBUTION.format(version=version)


def check_packages_from(url: str) -> str:
    """``url`` as the address of a Pyodide distribution's folder (an http(s) address, ending in "/")."""
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        raise ValueError(f"--packages-from must be the http(s) address of a Pyodide distribution's folder, got {url!r}")
    return url if url.endswith("/") else url + "/"


#: JupyterLab settings of the site.
SETTINGS = {"@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}}
#: Where draw()'s "viz" backend finds viz.js, relative to the Pyodide folder (see scalargrad/pictures/render.py).
VIZ_FILE = "viz.js"


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def run(*command, **kwargs) -> str:
    print("$", " ".join(map(str, command)), flush=True)
    return subprocess.run(list(map(str, command)), check=True, text=True, stdout=subprocess.PIPE, **kwargs).stdout


def npm_folder() -> Path:
    """Where NPM_PACKAGES are installed in the cache (one folder per set of versions)."""
    return CACHE / "npm-{}".format(hashlib.sha256(json.dumps(NPM_PACKAGES, sort_keys=True).encode()).hexdigest()[:12])


def npm_packages() -> Path:
    """node_modules with NPM_PACKAGES, installed once per set of versions."""
    folder = npm_folder()
    modules = folder / "node_modules"
    if not all((modules / name / "package.json").exists() for name in NPM_PACKAGES):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text(json.dumps({"private": True, "dependencies": NPM_PACKAGES}, indent=1))
        run("npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", cwd=folder)
    return modules


def project_wheel(into: Path) -> Path:
    """A wheel of this checkout (scalargrad and nn)."""
    shutil.rmtree(into, ignore_errors=True)
    run("uv", "build", "--wheel", "--quiet", "--out-dir", into, ROOT)
    (wheel,) = into.glob(f"{PROJECT.replace('-', '_')}-*.whl")
    return wheel


def kernel_wheels() -> list[Path]:
    """The Pyodide kernel's own wheels (piplite, pyodide_kernel, the ipykernel and widgetsnbextension shims)."""
    import jupyterlite_pyodide_kernel  # noqa: F401  (the site group must be installed)

    found = {}
    for folder in (Path(p) / "share" / "jupyter" / "labextensions" for p in {sys.prefix, sys.base_prefix}):
        for wheel in (folder / "@jupyterlite" / "pyodide-kernel-extension" / "static" / "pypi").glob("*.whl"):
            name = normalize(wheel.name.split("-")[0])
            if name == "widgetsnbextension" and not wheel.name.startswith("widgetsnbextension-4"):
                continue  # the shim for ipywidgets 7
            found[name] = wheel
    missing = FROM_KERNEL - set(found)
    if missing:
        raise SystemExit(f"the Pyodide kernel's wheels {sorted(missing)} were not found: uv sync --group site")
    return list(found.values())


def pypi_wheels(pyodide_lock: dict, project: Path) -> list[Path]:
    """Pure-Python wheels from PyPI for REQUIREMENTS and the project's own dependencies, resolved for Pyodide."""
    pinned = [f"{p['name']}=={p['version']}" for p in pyodide_lock["packages"].values() if p["package_type"] == "package"]
    spec = BUILD / "requirements"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "in.txt").write_text("\n".join([*REQUIREMENTS, str(project)]) + "\n")
    (spec / "constraints.txt").write_text("\n".join(pinned) + "\n")
    resolved = run(
        "uv", "pip", "compile", spec / "in.txt", "--constraints", spec / "constraints.txt",
        "--python-platform", PYODIDE_PLATFORM, "--python-version", PYODIDE_PYTHON,
        "--no-header", "--no-annotate", "--quiet",
    )  # fmt: skip
    pins = [line.strip() for line in resolved.splitlines() if "==" in line]
    pins = [pin for pin in pins if normalize(pin.split("==")[0]) not in FROM_KERNEL | {PROJECT}]
    into = CACHE / "wheels"
    into.mkdir(parents=True, exist_ok=True)
    have = _by_pin(into)
    wanted = {normalize(p.split("==")[0]) + "==" + p.split("==")[1]: p for p in pins}
    missing = [pin for key, pin in wanted.items() if key not in have]
    if missing:
        run(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--platform=any", "--implementation=py", f"--python-version={PYODIDE_PYTHON}", "--dest", into, *missing)  # fmt: skip
        have = _by_pin(into)
    not_pure = [have[key].name for key in wanted if not have[key].name.endswith("-none-any.whl")]
    if not_pure:
        raise SystemExit(f"these wheels are not pure Python and cannot run in Pyodide: {not_pure}")
    return [have[key] for key in wanted]


def _by_pin(folder: Path) -> dict[str, Path]:
    """The wheels in ``folder`` by ``name==version`` (the name normalized)."""
    return {normalize(w.name.split("-")[0]) + "==" + w.name.split("-")[1]: w for w in folder.glob("*.whl")}


def wheel_entry(wheel: Path, environment: dict) -> dict:
    """The pyodide-lock.json entry of a pure-Python wheel: its name, imports and (unfiltered) dependencies."""
    from packaging.requirements import Requirement

    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode("utf-8"))
        tops = {n.split("/")[0] for n in archive.namelist() if not n.split("/")[0].endswith((".dist-info", ".data"))}
    depends = []
    for line in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate({**environment, "extra": ""}):
            depends.append(normalize(requirement.name))
    return {
        "name": normalize(metadata["Name"]),
        "version": metadata["Version"],
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "package_type": "package",
        "imports": sorted(t.removesuffix(".py") for t in tops),
        "depends": depends,
        "unvendored_tests": False,
    }


def from_distribution(available: dict, names: list[str], base: str, shipped: set[str]) -> dict[str, dict]:
    """The entries of ``names`` and of everything they depend on, from Pyodide's own lock's packages
    (``available``), each ``file_name`` made the absolute address of the file under ``base``.

    Packages in ``shipped`` (the site's own wheels, at the same versions) stay the site's: neither
    taken nor followed."""
    taken, todo = {}, [normalize(n) for n in names]
    while todo:
        name = todo.pop()
        if name in taken or name in shipped:
            continue
        if name not in available:
            raise ValueError(f"Pyodide's distribution has no package {name!r} (it has {len(available)} others)")
        entry = available[name]
        taken[name] = {**entry, "file_name": base + entry["file_name"]}
        todo.extend(normalize(d) for d in entry["depends"])
    return taken


def site_lock(lock: dict, shipped: dict[str, dict], packages_from: str | None = None) -> dict:
    """Pyodide's ``lock`` with its packages replaced by the site's: its own wheels (``shipped``, by
    name; relative file names, served beside the lock) and, if ``packages_from`` is given (the
    published site), FROM_DISTRIBUTION and all they need from the distribution at that address."""
    packages = {name: dict(entry) for name, entry in shipped.items()}
    if packages_from is not None:
        packages.update(from_distribution(lock["packages"], FROM_DISTRIBUTION, packages_from, set(shipped)))
    for name in shipped:  # a wheel's dependencies as its metadata says, but only those the site has
        packages[name]["depends"] = sorted(d for d in set(packages[name]["depends"]) if d in packages)
    return {**lock, "packages": dict(sorted(packages.items()))}


def pyodide_folder(modules: Path, wheels: list[Path], into: Path, packages_from: str | None = None) -> list[str]:
    """Pyodide's runtime, viz.js, the wheels and a pyodide-lock.json listing those wheels (and, with
    ``packages_from``, the packages the site takes from Pyodide's distribution there), in ``into``.

    Returns the names of the packages in the lock."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    source = modules / "pyodide"
    for name in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "package.json"):
        shutil.copy2(source / name, into / name)
    shutil.copy2(modules / "@viz-js" / "viz" / "dist" / "viz.js", into / VIZ_FILE)
    lock = json.loads((source / "pyodide-lock.json").read_text())
    environment = {
        "sys_platform": "emscripten", "platform_system": "Emscripten", "os_name": "posix",
        "platform_machine": "wasm32", "implementation_name": "cpython", "platform_python_implementation": "CPython",
        "python_version": PYODIDE_PYTHON, "python_full_version": lock["info"]["python"],
    }  # fmt: skip
    shipped = {}
    for wheel in wheels:
        shutil.copy2(wheel, into / wheel.name)
        entry = wheel_entry(wheel, environment)
        shipped[entry["name"]] = entry
    lock = site_lock(lock, shipped, packages_from)
    (into / "pyodide-lock.json").write_text(json.dumps(lock, indent=1))
    return sorted(lock["packages"])


def kernel_settings(published: bool = False) -> dict:
    """The Pyodide kernel's settings in jupyter-lite.json: no PyPI, and what to load as it starts."""
    preload = PRELOAD + PUBLISHED_PRELOAD if published else PRELOAD
    return {"disablePyPIFallback": True, "loadPyodideOptions": {"packages": preload}}


def cleared(notebook: Path) -> str:
    """The notebook's JSON with its outputs and execution counts removed (the site runs them afresh)."""
    nb = json.loads(notebook.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"]["kernelspec"] = {"name": "python", "display_name": "Python (Pyodide)", "language": "python"}
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def check_output_folder(out: Path) -> Path:
    """``out`` resolved, if it may be replaced by a site: missing, empty, or a site built before.

    Anything else (a folder of the user's, the checkout) is refused with a ValueError, and left alone."""
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a folder for the site, got the file {str(out)!r}")
    if out.is_dir() and any(out.iterdir()) and not (out / "jupyter-lite.json").is_file():
        raise ValueError(
            f"--out {str(out)!r} holds files that are not a site built before (no jupyter-lite.json); "
            "the build replaces its folder, so name a new or empty one"
        )
    return out


def build(out: Path = DEFAULT_OUT, packages_from: str | None = None) -> Path:
    """Build the site into ``out`` (replaced), offline except for the registries; return ``out``.

    With ``packages_from`` (an address of Pyodide's distribution), the published site: every
    notebook, the compiled packages they need listed from that address."""
    out = check_output_folder(out)
    if packages_from is not None:
        packages_from = check_packages_from(packages_from)
    published = packages_from is not None
    modules = npm_packages()
    lite = BUILD / "lite-dir"
    shutil.rmtree(lite, ignore_errors=True)
    (lite / "static").mkdir(parents=True)
    project = project_wheel(BUILD / "project-wheel")
    pyodide_lock = json.loads((modules / "pyodide" / "pyodide-lock.json").read_text())
    wheels = [project, *kernel_wheels(), *pypi_wheels(pyodide_lock, project)]
    names = pyodide_folder(modules, wheels, lite / "static" / "pyodide", packages_from)
    settings = kernel_settings(published)
    absent = [name for name in settings["loadPyodideOptions"]["packages"] if normalize(name) not in names]
    if absent:
        raise SystemExit(f"the site's lock lacks {absent}")
    config = {"jupyter-config-data": {"litePluginSettings": {KERNEL_PLUGIN: settings}}}
    (lite / "jupyter-lite.json").write_text(json.dumps(config, indent=1))
    # Every cell stays in the page (JupyterLab's default drops cells scrolled out of view): the
    # notebooks are short, and a whole page can be searched, printed and checked.
    (lite / "overrides.json").write_text(json.dumps(SETTINGS, indent=1))
    contents = lite / "files"
    contents.mkdir()
    for notebook in site_notebooks(published):
        (contents / notebook.name).write_text(cleared(notebook))
    shutil.rmtree(out, ignore_errors=True)
    run(
        sys.executable, "-m", "jupyterlite_core", "build", "--lite-dir", lite, "--output-dir", out,
        "--contents", contents, "--apps", "lab", "--no-sourcemaps", "--no-libarchive", "--no-unused-shared-packages",
        cwd=lite,
    )  # fmt: skip
    generated = (out / "index.html").read_text()
    config = re.search(r'<script id="jupyter-config-data".*?</script>', generated, flags=re.S)
    if config is None:
        raise SystemExit("JupyterLite's index.html has no jupyter-config-data element: the welcome page cannot replace it")
    (out / "index.html").write_text(welcome_page(site_notebooks(published), config[0]))  # lesson one, not a launcher
    return out


def lesson_title(notebook: Path) -> str:
    """The notebook's first heading (``# 01 · Computation graphs``), or its file name."""
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return notebook.stem


def welcome_page(notebooks: list[Path], config: str = "") -> str:
    """The site's front page: the first lesson to open, then every lesson, each a link into JupyterLab.

    ``config`` is the ``<script id="jupyter-config-data">`` element of the page JupyterLite wrote there:
    its apps read it from the root page, so it stays (without the script that redirects to the app)."""
    link = lambda nb: f"lab/index.html?path={urllib.parse.quote(nb.name)}"  # noqa: E731
    items = "\n".join(f'<li><a href="{html.escape(link(nb))}">{html.escape(lesson_title(nb))}</a></li>' for nb in notebooks)
    first = notebooks[0]
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>scalargrad: the course</title>
{config}
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ font-family: system-ui, sans-serif; max-width: 42em; margin: 2em auto; padding: 0 1em; line-height: 1.5; }}
a.start {{ display: inline-block; padding: 0.6em 1.2em; background: #0b6e79; color: white; border-radius: 6px; text-decoration: none; }}</style>
</head>
<body>
<h1>scalargrad: backpropagation, node by node</h1>
<p>The course runs here, in your browser: Python and every graph, nothing to install. What you change stays in this browser.</p>
<p><a class="start" id="start" href="{html.escape(link(first))}">Start with lesson 1: {html.escape(lesson_title(first))}</a></p>
<h2>Lessons</h2>
<ol id="lessons">
{items}
</ol>
<p>Graphs draw in any current browser; Chrome and Edge also save them and step through backpropagation.
<a href="lab/index.html">All files</a>.</p>
</body>
</html>
"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json",
    }  # fmt: skip

    def log_message(self, *args) -> None:
        pass


def server(folder: Path, port: int = 8000, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """An HTTP server for the static site in ``folder`` (not started: call serve_forever)."""
    return http.server.ThreadingHTTPServer((host, port), functools.partial(_Handler, directory=str(folder)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "serve"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the site's folder (default build/lite/site)")
    parser.add_argument("--port", type=int, default=8000, help="serve: the port on 127.0.0.1 (default 8000)")
    parser.add_argument("--published", action="store_true",
                        help="the site for the web: every notebook, numpy, matplotlib and scikit-learn from Pyodide's distribution")  # fmt: skip
    parser.add_argument("--packages-from", metavar="URL",
                        help=f"with --published: the distribution's address (default {distribution_url()})")  # fmt: skip
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be from 0 to 65535, got {args.port}")
    if args.packages_from is not None and not args.published:
        parser.error(f"--packages-from is the published site's option: add --published (got --packages-from {args.packages_from})")
    packages_from = None
    if args.published:
        try:
            packages_from = check_packages_from(args.packages_from or distribution_url())
        except ValueError as error:
            parser.error(str(error))
    try:
        args.out = check_output_folder(args.out)
    except ValueError as error:
        parser.error(str(error))
    if args.command == "build" or not (args.out / "index.html").exists():
        build(args.out, packages_from)
    if args.command == "serve":
        with server(args.out, args.port) as httpd:
            print(f"the course: http://127.0.0.1:{args.port}/lab/index.html  (Ctrl-C stops)", flush=True)
            httpd.serve_forever()


if __name__ == "__main__":
    main()
