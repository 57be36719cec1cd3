"""What new nodes are made under: whether the graph is recorded, and the scope name.

Both live in one :mod:`contextvars` variable, so each operation reads its context
with a single lookup, and ``no_grad``/``scope`` are safe across threads and asyncio
tasks (each sees its own context; there is no global flag).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, NamedTuple


class GraphContext(NamedTuple):
    """``recording``: operations record their parents. ``scope``: dotted name given to new nodes."""

    recording: bool = True
    scope: str = ""


_CURRENT: ContextVar[GraphContext] = ContextVar("scalargrad_graph_context", default=GraphContext())

current = _CURRENT.get


@contextmanager
def no_grad() -> Iterator[None]:
    """Operations inside record no parents: their results are leaves (as ``torch.no_grad``)."""
    token = _CURRENT.set(_CURRENT.get()._replace(recording=False))
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextmanager
def enable_grad() -> Iterator[None]:
    """Record the graph again inside a ``no_grad`` block."""
    token = _CURRENT.set(_CURRENT.get()._replace(recording=True))
    try:
        yield
    finally:
        _CURRENT.reset(token)


@contextmanager
def scope(name: str) -> Iterator[str]:
    """Give every node made inside the name ``name``; nested scopes join with dots.

    ``with scope("layer1"): with scope("neuron3"): ...`` names nodes ``"layer1.neuron3"``.
    Drawing uses the names to box or collapse groups of nodes.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"scope() needs a non-empty string name, got {name!r}")
    outer = _CURRENT.get()
    full = f"{outer.scope}.{name}" if outer.scope else name
    token = _CURRENT.set(outer._replace(scope=full))
    try:
        yield full
    finally:
        _CURRENT.reset(token)
