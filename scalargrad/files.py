"""Writing the project's files: whole or not at all, with the permissions ``open()`` would give."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def require_folder(path: Path) -> None:
    """Refuse to save to ``path`` when its folder does not exist (FileNotFoundError naming both)."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save {str(path)!r}: the folder {str(path.parent)!r} does not exist")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either untouched or complete.

    The data goes to a temporary file in the same folder, which then replaces ``path``;
    the file gets the mode ``open()`` would give a new file (0666 less the umask).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
