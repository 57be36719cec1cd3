"""Run the notebooks top to bottom in a fresh kernel, and write them back with their outputs.

    uv run python notebooks/build.py                    # every notebook in this folder
    uv run python notebooks/build.py 03_xor_playground  # some of them (names or paths)

The kernel is always this environment's Python (the project's venv), whatever other
Python kernels the machine has registered; each notebook runs in this folder, seeds
fixed in its own cells, so rebuilding changes nothing but timings. The test suite
(tests/test_notebooks.py) runs the same ``execute`` function.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT = 120  # seconds one cell may take before the run is abandoned
NOTEBOOK_TIMEOUT = 300  # seconds a whole notebook may take (a hang guard, not a speed test)
WIDGET_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")  # ipywidgets model ids (uuid4 hex)


def notebook_paths() -> list[Path]:
    """Every notebook in notebooks/, in course order (their names start with 01_, 02_, ...)."""
    return sorted(HERE.glob("*.ipynb"))


def _kernel_manager() -> AsyncKernelManager:
    """A manager for the 'python3' kernel of *this* Python, not one found elsewhere on the machine."""
    own_kernels = Path(sys.prefix) / "share" / "jupyter" / "kernels"
    specs = KernelSpecManager(kernel_dirs=[str(own_kernels)])
    # The spec's command is ``python -m ipykernel_launcher``; jupyter_client replaces a bare
    # "python" with sys.executable, so the kernel is this interpreter.
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


def execute(nb: nbformat.NotebookNode, cwd: Path = HERE, timeout: float = NOTEBOOK_TIMEOUT) -> nbformat.NotebookNode:
    """Execute every cell of ``nb`` in order in a fresh kernel started in ``cwd``; return ``nb`` with outputs.

    Raises nbclient's CellExecutionError on the first cell that fails, and TimeoutError
    when a cell takes longer than CELL_TIMEOUT or the notebook longer than ``timeout``.
    """
    km = _kernel_manager()
    client = NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )

    async def run():
        task = asyncio.ensure_future(client.async_execute())
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise TimeoutError(f"the notebook did not finish within {timeout} s")
            return task.result()
        finally:
            # We own the kernel manager, so we stop the kernel: a failed or timed-out run leaves none behind.
            if client.kc is not None:
                client.kc.stop_channels()
            if await km.is_alive():
                await km.shutdown_kernel(now=True)
            await km.cleanup_resources()

    return asyncio.run(run())


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Make a fresh run's file differ from the last one only where the results differ.

    Adjacent stream outputs are joined (how the kernel chunks printed text varies from run
    to run), and the random ids of widget models are renumbered in order of appearance.
    """
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        joined = []
        for output in cell.outputs:
            last = joined[-1] if joined else None
            if output.output_type == "stream" and last is not None and last.output_type == "stream" and last.name == output.name:
                last.text += output.text
            else:
                joined.append(output)
        cell.outputs = joined
    states = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    order = list(dict.fromkeys(WIDGET_ID.findall(json.dumps([c.get("outputs", []) for c in nb.cells], sort_keys=True))))
    for model in order:  # then the models they refer to, breadth first
        order += [m for m in WIDGET_ID.findall(json.dumps(states.get(model, {}), sort_keys=True)) if m not in order]
    masked = {m: WIDGET_ID.sub("", json.dumps(state, sort_keys=True)) for m, state in states.items()}
    order += sorted((m for m in states if m not in order), key=masked.get)
    names = {m: f"{i:032x}" for i, m in enumerate(order, start=1)}
    text = WIDGET_ID.sub(lambda m: names.get(m.group(0), m.group(0)), nbformat.writes(nb))
    return nbformat.reads(text, as_version=4)


def build(path: Path) -> None:
    """Re-execute the notebook at ``path`` and overwrite it with the fresh outputs."""
    nb = nbformat.read(path, as_version=4)
    execute(nb, cwd=path.parent)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(normalize(nb), path)


def _resolve(name: str) -> Path:
    path = Path(name)
    if path.exists():
        return path.resolve()
    for candidate in notebook_paths():
        if candidate.stem == name or candidate.name == name:
            return candidate
    known = ", ".join(p.stem for p in notebook_paths())
    raise SystemExit(f"build.py: no notebook named {name!r} (known: {known})")


def main(argv: list[str]) -> None:
    paths = [_resolve(a) for a in argv] if argv else notebook_paths()
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        build(path)


if __name__ == "__main__":
    main(sys.argv[1:])
