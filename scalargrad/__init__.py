"""scalargrad: a scalar reverse-mode autograd engine for learning backpropagation."""

from .engine.autograd import topological_order
from .engine.compile import Program, compile  # noqa: A004 - scalargrad.compile, as torch.compile
from .engine.errors import DivisionByZero, DomainError, NonFiniteError, Overflow
from .engine.derivatives import grad
from .engine.context import enable_grad, no_grad, scope
from .engine.gradcheck import gradcheck, numerical_gradient
from .engine.primitives import Primitive, primitive
from .engine.value import Constant, Value, apply

__all__ = [
    "Value",
    "Constant",
    "NonFiniteError",
    "DivisionByZero",
    "DomainError",
    "Overflow",
    "Primitive",
    "primitive",
    "apply",
    "grad",
    "no_grad",
    "enable_grad",
    "scope",
    "gradcheck",
    "numerical_gradient",
    "topological_order",
    "compile",
    "Program",
    "draw",
    "draw_dot",
    "Picture",
    "backward_steps",
    "save_steps",
    "steps_widget",
]
__version__ = "0.2.0"  # the release's version (pyproject.toml reads it here)

# Drawing imports graphviz; load it on first use so that `import scalargrad` stays light.
_LAZY = {
    "draw": "pictures.drawing",
    "draw_dot": "pictures.drawing",
    "Picture": "pictures.picture",
    "backward_steps": "pictures.steps",
    "save_steps": "pictures.steps",
    "steps_widget": "pictures.steps",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalargrad' has no attribute {name!r}")
