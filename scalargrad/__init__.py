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
]
__version__ = "0.1.0"
