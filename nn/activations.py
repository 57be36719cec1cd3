"""Activation functions by name: ``relu``, ``tanh``, ``sigmoid``, ``linear``.

Each takes a Value (or a plain number, which becomes a Value) and returns a Value.
"""

from __future__ import annotations

from typing import Callable

from scalargrad import Value


def _value(x) -> Value:
    return x if isinstance(x, Value) else Value(x)


def relu(x) -> Value:
    """max(x, 0)."""
    return _value(x).relu()


def tanh(x) -> Value:
    """tanh x = (eˣ − e⁻ˣ)/(eˣ + e⁻ˣ)."""
    return _value(x).tanh()


def sigmoid(x) -> Value:
    """σ(x) = 1/(1 + e⁻ˣ)."""
    return _value(x).sigmoid()


def linear(x) -> Value:
    """The identity: x itself (no node is added)."""
    return _value(x)


ACTIVATIONS: dict[str, Callable] = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid, "linear": linear}


def get(name: str) -> Callable:
    """The activation function called ``name``; ValueError listing the known names otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown activation {name!r}; known activations: {', '.join(ACTIVATIONS)}") from None
