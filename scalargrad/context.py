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


class scope:
    """Give every node made inside the name ``name``; nested scopes join with dots.

    ``with scope("layer1"): with scope("neuron3"): ...`` names nodes ``"layer1.neuron3"``.
    Drawing uses the names to box or collapse groups of nodes. A plain class rather than
    a generator, because nn opens one per neuron per forward pass and it must stay cheap.
    """

    __slots__ = ("name", "_token")

    def __init__(self, name: str):
        if not isinstance(name, str) or not name:
            raise ValueError(f"scope() needs a non-empty string name, got {name!r}")
        self.name = name

    def __enter__(self) -> str:
        outer = _CURRENT.get()
        full = f"{outer.scope}.{self.name}" if outer.scope else self.name
        self._token = _CURRENT.set(GraphContext(outer.recording, full))
        return full

    def __exit__(self, *exc_info) -> None:
        _CURRENT.reset(self._token)
