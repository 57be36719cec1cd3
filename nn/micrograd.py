"""micrograd 0.1.0's ``Neuron``, ``Layer`` and ``MLP`` on scalargrad Values, number for number.

The import to swap: ``from micrograd.nn import Neuron, Layer, MLP`` becomes
``from nn.micrograd import Neuron, Layer, MLP``. What makes the numbers the same:

* each weight is ``random.uniform(-1, 1)`` from the global ``random`` module, drawn layer by
  layer, neuron by neuron, weight by weight, and each bias starts at 0, so after
  ``random.seed(1337)`` the model holds micrograd's weights bit for bit;
* ``Neuron(nin, nonlin=True)`` is relu(w·x + b), ``nonlin=False`` leaves it linear;
  ``MLP(nin, nouts)`` uses relu in every layer but the last, which is linear;
* a ``Layer`` of one neuron returns that neuron's Value, otherwise a list;
* ``parameters()`` lists each neuron's weights then its bias, neuron by neuron, layer by layer.

They are ``nn`` modules too (subclasses of ``nn.Neuron``/``nn.Layer``/``nn.MLP``), so
``named_parameters()``, ``state_dict()``, ``save()``/``load()``, scopes in pictures and
``nn.optim`` work on them. Where micrograd would silently compute something else — an input of
the wrong length (``zip`` drops the extra inputs), a width of 0 — they raise instead.
"""

from __future__ import annotations

import random

from . import layers
from .module import Module

__all__ = ["Module", "Neuron", "Layer", "MLP"]


class Neuron(layers.Neuron):
    """relu(w·x + b) (``nonlin=True``) or w·x + b, weights from the global ``random.uniform(-1, 1)``."""

    def __init__(self, nin, nonlin=True):
        super().__init__(nin, nonlin=nonlin, init="uniform", rng=random)

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(layers.Layer):
    """``nout`` micrograd Neurons reading the same inputs; one output is returned as a lone Value."""

    def __init__(self, nin, nout, **kwargs):
        layers._positive_int(nout, "Layer nout")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def forward(self, x):
        out = super().forward(x)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


class MLP(layers.MLP):
    """micrograd's multi-layer perceptron: relu hidden layers, a linear last layer."""

    def __init__(self, nin, nouts):
        sizes = layers._layer_sizes(nin, nouts)
        last = len(sizes) - 2
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != last) for i in range(last + 1)]

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"
