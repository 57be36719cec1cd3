"""Every notebook runs top to bottom in a fresh kernel of the project's venv, and is committed with its outputs.

Running them (about 80 s of CPU: the notebooks train their models) is the ``notebooks`` step,
``uv run pytest -m notebooks``; the checks of the committed files run with the rest of the suite.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))  # what notebooks/build.py's notebook_paths() gives
WHERE_AM_I = "import sys; print(sys.executable); print(sys.prefix)"


@functools.cache
def notebook_build():
    """notebooks/build.py (it imports nbformat and nbclient, about 4 s: only the notebooks step needs it)."""
    pytest.importorskip("nbclient", reason="the notebooks dependency group is not installed")
    spec = importlib.util.spec_from_file_location("notebook_build", NOTEBOOKS / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def test_the_course_has_its_notebooks():
    assert len(PATHS) >= 4, f"expected the four course notebooks in {NOTEBOOKS}, found {[p.name for p in PATHS]}"


@pytest.mark.notebooks
def test_the_tests_see_the_notebooks_build_py_runs():
    assert notebook_build().notebook_paths() == PATHS


@pytest.mark.notebooks
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs_in_a_fresh_venv_kernel(path):
    build = notebook_build()
    nbformat = build.nbformat
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WHERE_AM_I))
    build.execute(nb, cwd=path.parent)  # raises CellExecutionError on the first failing cell

    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)  # a busy kernel may send it in pieces
    executable, prefix = printed.split()
    assert (executable, prefix) == (sys.executable, sys.prefix), "the kernel was not the project venv's Python"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_committed_with_outputs_of_one_clean_run(path):
    """Readers on a code host see the outputs: every code cell ran, in order, in one run, without error."""
    nb = json.loads(path.read_text(encoding="utf-8"))  # the file as a code host shows it
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert code, f"{path.name} has no code"
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name} is not saved from one top-to-bottom run (execution counts {counts}); "
        "rebuild it with: uv run python notebooks/build.py"
    )
    assert not [o for c in code for o in c["outputs"] if o["output_type"] == "error"], f"{path.name} was saved with an error"
    assert any(c["outputs"] for c in code), f"{path.name} was saved without outputs"


@pytest.mark.notebooks
def test_rebuilding_a_notebook_changes_nothing_but_results():
    """build.normalize joins chunked prints and renumbers ipywidgets' random model ids, so two runs match."""
    build = notebook_build()
    nbformat = build.nbformat

    def run(ids):
        slider, label = ids
        nb = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell("w", id="the-cell")
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="loss 0.5"),
            nbformat.v4.new_output("stream", name="stdout", text="\n"),
            nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": slider}}),
        ]
        nb.cells = [cell]
        nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
            label: {"model_name": "LabelModel", "state": {}},
            slider: {"model_name": "IntSliderModel", "state": {"description": f"IPY_MODEL_{label}"}},
        }}}
        return nbformat.writes(build.normalize(nb))

    first = run(("b09f90e28bcd46cda14d453226a8e2bd", "0a690dfb62bf49cb9484c2e7ea16d268"))
    second = run(("13c53ed89c8549b68f1cd7c03f2f4309", "d54054b8e9954b1c8fb25a3da12cc469"))
    assert first == second
    nb = nbformat.reads(first, as_version=4)
    assert [o.get("text") for o in nb.cells[0].outputs] == ["loss 0.5\n", None]
    assert nb.cells[0].outputs[1]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == f"{1:032x}"
