"""The release: its own distribution name, one version, a changelog entry for it, and a wheel and an
sdist that carry the packages and their data files and nothing else. (.ci/run runs this file again
in a fresh venv where the built wheel is installed, not editable.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import scalargrad

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_distribution_has_its_own_name_and_one_version():
    assert PROJECT["name"] == "scalargrad-lab"  # PyPI's "scalargrad" is an unrelated project
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]  # read from scalargrad/__init__.py
    assert metadata.version("scalargrad-lab") == scalargrad.__version__
    assert metadata.distribution("scalargrad-lab").entry_points.select(name="scalargrad")


def test_the_changelog_has_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(scalargrad.__version__)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, flags=re.M)
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{scalargrad.__version__}]")


def test_every_install_line_names_the_distribution():
    for path in [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("nn/*.py"), *ROOT.glob("notebooks/*.ipynb")]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"pip install '?scalargrad(\[|\s|'|$)", text), path.name


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv builds the sdist and the wheel")
def test_the_sdist_and_the_wheel_carry_the_packages_only(tmp_path):
    subprocess.run(["uv", "build", "--quiet", "--out-dir", str(tmp_path), str(ROOT)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("scalargrad_lab-*.whl")
    (sdist,) = tmp_path.glob("scalargrad_lab-*.tar.gz")
    in_wheel = zipfile.ZipFile(wheel).namelist()
    with tarfile.open(sdist) as archive:
        in_sdist = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    for names in (in_wheel, in_sdist):
        assert "scalargrad/pictures/steps.html" in names and "nn/compiled.py" in names
        tops = {name.split("/")[0] for name in names}
        assert not tops & {"tests", "notebooks", "bench", ".ci", "build", ".hypothesis", ".venv"}, tops
        assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert {"README.md", "CHANGELOG.md", "pyproject.toml"} <= set(in_sdist)
