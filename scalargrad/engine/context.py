"""What new nodes are made under: whether the graph is recorded, and the scope name.

Both live in one :mod:`contextvars` variable, so each operation reads its context
with a single lookup, and ``no_grad``/``scope`` are safe across threads and asyncio
tasks (each sees its own context; there is no global flag).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Callable, Iterator, NamedTuple


class GraphContext(NamedTuple):
    """``recording``: operations record their parents. ``scope``: dotted name given to new nodes."""

    recording: bool = True
    scope: str = ""


_CURRENT: ContextVar[GraphContext] = ContextVar("scalargrad_graph_context", default=GraphContext())

current = _CURRENT.get


@contextmanager
def _recording(on: bool) -> Iterator[None]:
    token = _CURRENT.set(_CURRENT.get()._replace(recording=on))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def no_grad():
    """Operations inside record no parents: their results are leaves (as ``torch.no_grad``)."""
    return _recording(False)


def enable_grad():
    """Record the graph again inside a ``no_grad`` block."""
    return _recording(True)


_CHILDREN: dict = {}  # (outer context, name) -> inner context, so entering a scope allocates nothing
_CHILDREN_LIMIT = 4096  # a program that makes endless distinct names only refills the cache


def _check_name(name) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"scope() needs a non-empty string name, got {name!r}")


def _child(outer: GraphContext, name: str) -> GraphContext:
    _check_name(name)
    if len(_CHILDREN) >= _CHILDREN_LIMIT:
        _CHILDREN.clear()
    full = f"{outer.scope}.{name}" if outer.scope else name
    inner = _CHILDREN[(outer, name)] = GraphContext(outer.recording, full)
    return inner


def push_scope(name: str) -> Token:
    """Enter the scope ``name`` without a ``with`` block; give the returned token to ``pop_scope``.

    The same as ``scope(name).__enter__()`` for code that opens a scope on every call
    (nn's modules), where it is the cheapest way: one lookup and one ContextVar set.
    """
    outer = _CURRENT.get()
    try:
        inner = _CHILDREN.get((outer, name))
    except TypeError:  # an unhashable name: _child says what was wrong with it
        inner = None
    if inner is None:
        inner = _child(outer, name)
    return _CURRENT.set(inner)


pop_scope: Callable[[Token], None] = _CURRENT.reset


class scope:
    """Give every node made inside the name ``name``; nested scopes join with dots.

    ``with scope("layer1"): with scope("neuron3"): ...`` names nodes ``"layer1.neuron3"``.
    Drawing uses the names to box or collapse groups of nodes.
    """

    __slots__ = ("name", "_token")

    def __init__(self, name: str):
        _check_name(name)
        self.name = name

    def __enter__(self) -> str:
        self._token = push_scope(self.name)
        return _CURRENT.get().scope

    def __exit__(self, *exc_info) -> None:
        pop_scope(self._token)
