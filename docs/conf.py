"""Sphinx configuration of the documentation site.

Build it with ``uv run --group docs sphinx-build -W -b html docs build/docs`` (warnings are errors).
The course notebooks are pages of the Tutorials, shown with their saved outputs (never run here):
they are copied from ``notebooks/`` into ``docs/tutorials/notebooks/`` when the build starts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import scalargrad  # noqa: E402

project = "scalargrad"
author = "the scalargrad authors"
copyright = "2026, the scalargrad authors"  # noqa: A001 - Sphinx's name
version = release = scalargrad.__version__

extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.mathjax"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the notebooks are committed with the outputs of one clean run
nb_merge_streams = True
exclude_patterns = ["_build"]
suppress_warnings = ["mystnb.unknown_mime_type"]  # ipywidgets' live views: the static page shows their text

html_theme = "pydata_sphinx_theme"
html_title = f"scalargrad {release}"
html_static_path = ["_static"]
html_css_files = ["fit.css"]
html_js_files = ["fit.js"]
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2, "secondary_sidebar_items": ["page-toc"]}
html_sidebars = {"index": []}

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
autodoc_typehints = "signature"

# ---------------------------------------------------------------- the course notebooks as pages

#: Where the course's JupyterLite site is published, relative to the documentation's root (or an
#: address): `notebooks/lite.py build --published --out build/docs/course` puts it there.
LITE_URL = os.environ.get("SCALARGRAD_COURSE_URL", "course/")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
copies = HERE / "tutorials" / "notebooks"
shutil.rmtree(copies, ignore_errors=True)
copies.mkdir(parents=True)
for notebook in NOTEBOOKS:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    course = LITE_URL if "://" in LITE_URL else f"../../{LITE_URL}"
    links = (f'<a class="run-in-browser" href="{course}lab/index.html?path={notebook.name}">Run it in your browser</a> '
             "(nothing to install) · "
             f"{{download}}`Download the notebook <{notebook.name}>` · the lesson's saved outputs are below")
    first = nb["cells"][0]
    title, _, rest = "".join(first["source"]).partition("\n")
    first["source"] = f"{title}\n\n{links}\n{rest}"  # under the lesson's title
    (copies / notebook.name).write_text(json.dumps(nb, ensure_ascii=False), encoding="utf-8")

# ---------------------------------------------------------------- each command's --help, as it prints it

helps = HERE / "reference" / "cli_help"
shutil.rmtree(helps, ignore_errors=True)
helps.mkdir()
for name, args in {"scalargrad": [], "scalargrad-draw": ["draw"], "scalargrad-xor": ["xor"], "scalargrad-train": ["train"]}.items():
    code = "import sys; from nn.cli import main; sys.argv = ['scalargrad', *sys.argv[1:]]; main()"
    done = subprocess.run([sys.executable, "-c", code, *args, "--help"], capture_output=True, text=True,
                          env={"COLUMNS": "96"}, cwd=ROOT)
    (helps / f"{name}.txt").write_text(done.stdout)

# ---------------------------------------------------------------- the API reference, one entry per public name

import inspect  # noqa: E402

import nn  # noqa: E402


def _reference(module, title: str, intro: str) -> str:
    lines = [title, "=" * len(title), "", intro, ""]
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.ismodule(obj):
            kind = "automodule"
            target = obj.__name__
        else:
            kind = "autoclass" if inspect.isclass(obj) else "autofunction"
            target = f"{module.__name__}.{name}"
        lines += [f".. {kind}:: {target}", ""]
    return "\n".join(lines)


(HERE / "reference" / "scalargrad.rst").write_text(_reference(
    scalargrad, "scalargrad", "The engine: ``from scalargrad import Value``. Every public name, from its docstring."))
(HERE / "reference" / "nn.rst").write_text(_reference(
    nn, "nn", "Neural networks on Values: ``import nn``. Every public name, from its docstring."))
