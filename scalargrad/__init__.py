"""scalargrad: a scalar reverse-mode autograd engine for learning backpropagation."""

from .autograd import grad, topological_order
from .context import enable_grad, no_grad, scope
from .gradcheck import gradcheck, numerical_gradient
from .primitives import Primitive
from .value import Constant, Value

__all__ = [
    "Value",
    "Constant",
    "Primitive",
    "grad",
    "no_grad",
    "enable_grad",
    "scope",
    "gradcheck",
    "numerical_gradient",
    "topological_order",
    "draw",
    "draw_dot",
    "backward_steps",
    "save_steps",
]
__version__ = "0.1.0"

# Drawing imports graphviz; load it on first use so that `import scalargrad` stays light.
_LAZY = {
    "draw": "drawing",
    "draw_dot": "drawing",
    "Picture": "picture",
    "backward_steps": "steps",
    "save_steps": "steps",
    "steps_widget": "steps",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalargrad' has no attribute {name!r}")
