"""scalargrad.files: the one atomic write gives a file the mode ``open()`` would give at the time
of writing (0666 less the umask then in force), and leaves nothing else behind."""

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scalargrad.files import write_atomically

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("umask, mode", [(0o022, "0o644"), (0o077, "0o600")])
def test_a_saved_picture_gets_the_umasks_mode(umask, mode, tmp_path):
    # A fresh interpreter: the umask is the whole process's, so this test sets it where no other runs.
    code = f"""
        import os, stat
        from pathlib import Path
        from scalargrad import Value, draw
        os.umask({umask})  # changed after the import: what counts is the umask when the file is written
        path = Path({str(tmp_path)!r}) / "graph.dot"
        draw(Value(2.0, "x") * 3).save(path)
        print(oct(stat.S_IMODE(os.stat(path).st_mode)), sorted(p.name for p in path.parent.iterdir()))
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split(" ", 1) == [mode, "['graph.dot']\n"], result.stderr


def test_each_write_reads_the_umask_of_its_own_moment(tmp_path):
    code = f"""
        import os, stat
        from pathlib import Path
        from scalargrad.files import write_atomically
        for umask in (0o022, 0o077, 0o002):
            os.umask(umask)
            path = Path({str(tmp_path)!r}) / f"file{{umask:o}}"
            write_atomically(path, b"x")
            print(oct(stat.S_IMODE(os.stat(path).st_mode)))
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split() == ["0o644", "0o600", "0o664"], result.stderr


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary_file(tmp_path):
    path = tmp_path / "kept.txt"
    path.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomically(path, ["not", "bytes"])  # f.write refuses a list: after the file was made
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new" and stat.S_ISREG(os.stat(path).st_mode)
