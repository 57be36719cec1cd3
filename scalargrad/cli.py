"""The ``scalargrad draw`` subcommand. The ``scalargrad`` console script itself lives in
``nn/cli.py``, which adds the training commands (``scalargrad`` never imports ``nn``)."""

from __future__ import annotations

import argparse


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's subcommands (``draw``) to the ``scalargrad`` command's parser."""
