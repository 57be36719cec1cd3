"""scalargrad.files: the one atomic write gives a picture the mode ``open()`` would (0666 less the umask)."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("umask, mode", [(0o022, "0o644"), (0o077, "0o600")])
def test_a_saved_picture_gets_the_umasks_mode(umask, mode, tmp_path):
    # A fresh interpreter: scalargrad.files reads the umask once, when it is imported.
    code = f"""
        import os, stat
        from pathlib import Path
        os.umask({umask})
        from scalargrad import Value, draw
        path = Path({str(tmp_path)!r}) / "graph.dot"
        draw(Value(2.0, "x") * 3).save(path)
        print(oct(stat.S_IMODE(os.stat(path).st_mode)), sorted(p.name for p in path.parent.iterdir()))
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split(" ", 1) == [mode, "['graph.dot']\n"], result.stderr
