"""Pickling and copying a graph of any depth.

pickle and ``copy.deepcopy`` follow a node's parents recursively, so a graph deeper than
Python's recursion limit could not be saved or copied. Here a node pickled on its own lists
its whole graph ahead of itself, parents first, and a deep copy is made in topological order:
neither ever recurses deeper than one node. ``Value.__reduce__``, ``__deepcopy__`` and
``__copy__`` call ``reduce``, ``deep_copy`` and ``shallow_copy``.
"""

from __future__ import annotations

import copy
import threading

from . import autograd


def reduce(node):
    """``node.__reduce__()``: rebuild it from its fields, its graph written ahead of it."""
    made_of = fields(node)
    ahead, written = write_ancestors_first(node)
    return rebuild, (ahead, *made_of, written), attributes(node)


def deep_copy(node, memo: dict):
    """``copy.deepcopy(node)``: the whole graph behind it, copied parents first."""
    for each in autograd.topological_order(node):
        if id(each) not in memo:
            cls, data, grad, label, prim, scope, a, b, recorded = fields(each)
            a, b = (None if p is None else memo[id(p)] for p in (a, b))  # copied already: parents come first
            clone = rebuild(None, cls, data, grad, label, prim, scope, a, b, recorded)
            memo[id(each)] = clone
            own = attributes(each)
            if own:
                clone.__dict__.update(copy.deepcopy(own, memo))
    return memo[id(node)]


def shallow_copy(node):
    """``copy.copy(node)``: a new node with its fields and attributes, on the same parents."""
    clone = rebuild(None, *fields(node))
    own = attributes(node)
    if own:
        clone.__dict__.update(own)
    return clone


def fields(node) -> tuple:
    """Everything a node is, but its attributes: what pickling and copying carry over."""
    if node._prim is None and "_backward" in (attributes(node) or ()):
        raise TypeError(
            f"cannot pickle or copy the {node.op + ' ' if node.op else ''}node {node!r}: its _backward is a "
            "closure over the nodes it was made with, which a copy cannot point at (nodes made by the table, or by "
            "your own primitive() and apply(), pickle and copy)"
        )
    recorded = (node._da, node._db) if node._prim is not None and node._a is not None else None
    return type(node), node.data, node.grad, node.label, node._prim, node._scope, node._a, node._b, recorded


def attributes(node) -> dict | None:
    """The node's own attributes (its __dict__, which only UserValues have), or None."""
    return (vars(node) or None) if node.__class__.__dictoffset__ else None


def rebuild(ahead, cls, data, grad, label, prim, scope, a, b, recorded, written=None):
    """The node with these fields (``ahead`` and ``written``, see write_ancestors_first, are done with)."""
    node = object.__new__(cls)
    node.data, node.grad, node.label, node._prim, node._scope, node._a, node._b = data, grad, label, prim, scope, a, b
    if recorded is not None:
        node._da, node._db = recorded
    return node


class _Pickling(threading.local):
    def __init__(self):
        self.listed: set = set()  # ids of nodes that a node being pickled lists ahead of itself


_pickling = _Pickling()


def write_ancestors_first(node) -> tuple:
    """What pickling ``node`` needs to be written ahead of it so that pickle never recurses deeply.

    pickle writes a node's parents while writing the node, their parents while writing them,
    and so on: as deep as the graph. So a node pickled on its own (a root) lists its whole
    graph, parents before children, ahead of its fields; each node of that list (known by its
    id for the rest of this pickling) then finds its parents already written, and refers to them.
    Nodes met more than once are written once (pickle's memo), so identity is kept, across
    several roots in one pickle too. Returns (the list or None, a mark that ends the listing
    once pickle reaches it, or None).

    A listed node whose parents are still listed was not reached parents first (a pickling
    that failed half-way left its ids behind, or a parent was written before the list): it
    lists its own graph, so the depth of pickle's recursion never depends on these ids.
    """
    listed = _pickling.listed
    if node._a is None:
        return None, None
    if id(node) in listed and id(node._a) not in listed and id(node._b) not in listed:
        listed.discard(id(node))
        return None, None
    ahead = autograd.topological_order(node)
    ahead.pop()
    for other in ahead:
        if other._prim is None:
            fields(other)  # refuse a closure before anything is written
    new = {id(n) for n in ahead if n._a is not None}.difference(listed)
    listed.update(new)
    return ahead, _ListingDone(new)


class _ListingDone:
    """Pickled after a root's list (as an empty tuple): forgets the ids the list was written under."""

    __slots__ = ("ids",)

    def __init__(self, ids: set):
        self.ids = ids

    def __reduce__(self):
        _pickling.listed.difference_update(self.ids)
        return tuple, ()
