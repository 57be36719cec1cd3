"""The training guide (docs/how-to/training.md): its first example prints what it shows, and so does the command."""

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "how-to" / "training.md"


def section() -> str:
    return GUIDE.read_text(encoding="utf-8")


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section(), re.S)


def test_the_guides_first_example_prints_what_it_shows(tmp_path, monkeypatch):
    code, expected = blocks("python")[0], blocks("text")[0]  # the first example (tests/test_readme.py runs them all)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "training.md", "exec"), {})
    assert out.getvalue() == expected
    assert (tmp_path / "xor.json").exists()


def test_the_guide_shows_the_real_output_of_scalargrad_xor():
    (console,) = blocks("console")
    command, *shown = console.splitlines()
    assert command == "$ uv run scalargrad xor"
    script = Path(sys.executable).parent / "scalargrad"
    result = subprocess.run([str(script), "xor", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.splitlines() == shown
