"""The README's examples print what the README says they print, and its table of
primitives lists every primitive of the engine's table."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from scalargrad.engine.primitives import TABLE

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```\s*```text\n(.*?)```", README, flags=re.S)


def test_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("code, expected", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_readme_example_prints_what_the_readme_says(code, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip() == expected.strip()


def test_readme_table_lists_every_primitive():
    rows = {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", README, flags=re.M)}
    for primitive in TABLE:
        assert primitive.name in rows, f"README's table lacks the primitive {primitive.name!r}"
    assert "**c" in rows
