"""The README's and the documentation's examples print what they say they print, and the
explanation's table of primitives lists every primitive of the engine's table."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from scalargrad.engine.primitives import TABLE

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
EXAMPLES = [
    (page, code, expected)
    for page in PAGES
    for code, expected in re.findall(r"```python\n(.*?)```\s*```text\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
]


def _id(example) -> str:
    page, code, _ = example
    return f"{page.relative_to(ROOT)}:{code.splitlines()[0][:30]}"


def test_readme_and_docs_have_examples():
    assert len({page for page, _, _ in EXAMPLES}) >= 6 and len(EXAMPLES) >= 12


@pytest.mark.parametrize("page, code, expected", EXAMPLES, ids=[_id(e) for e in EXAMPLES])
def test_example_prints_what_its_page_says(page, code, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(page.relative_to(ROOT)), "exec"), {"__name__": "__readme__"})
    assert out.getvalue().strip() == expected.strip()


def test_the_table_of_primitives_lists_every_primitive():
    text = (ROOT / "docs" / "explanation" / "engine.md").read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `([^`]+)` \|", text, flags=re.M)}
    for primitive in TABLE:
        assert primitive.name in rows, f"the table lacks the primitive {primitive.name!r}"
    assert "**c" in rows


def test_the_readme_is_the_front_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    first_screen = "\n".join(text.splitlines()[:30])
    assert "browser" in first_screen and "docs/_static/lecture-graph.svg" in first_screen
    for link in re.findall(r"\]\(((?:docs|notebooks)/[^)#]+)", text):
        assert (ROOT / link).exists(), link
