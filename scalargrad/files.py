"""Writing the project's files: whole or not at all, with the permissions ``open()`` would give."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def require_folder(path: Path) -> None:
    """Refuse to save to ``path`` when its folder does not exist (FileNotFoundError naming both)."""
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save {str(path)!r}: the folder {str(path.parent)!r} does not exist")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either untouched or complete.

    The data goes to a temporary file in the same folder, which then replaces ``path``;
    the file gets the mode ``open()`` would give a new file now: 0666, less the umask in
    force at this moment, which the kernel applies itself (no umask read once and kept).
    """
    fd, tmp = _new_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_file(path: Path) -> tuple[int, Path]:
    """A new file beside ``path`` with an unused random name, opened for writing, mode 0666 less the umask."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666), tmp
        except FileExistsError:  # pragma: no cover - 2^48 names
            continue
