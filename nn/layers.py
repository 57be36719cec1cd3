"""Neurons, layers and models: micrograd's ``Neuron``/``Layer``/``MLP`` and PyTorch-style
``Linear``/``ReLU``/``Tanh``/``Sigmoid``/``Dropout``/``Sequential``.

During forward each module opens ``scalargrad.scope`` with its name in its parent
(``layers.0`` then ``neurons.1``), so every node gets a scope such as
``layers.0.neurons.1`` and graph pictures can box nodes by layer and neuron.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from scalargrad import Value
from scalargrad.engine import checks

from . import activations
from . import init as initialisation
from .module import Module
from .shapes import each_sample, map_scalars


def _positive_int(x, what: str) -> int:
    return checks.whole(x, what, low=1)


def _same_features(module, given: int, expected: int) -> None:
    if given != expected:
        raise ValueError(f"{type(module).__name__} expects {expected} features per sample, got {given}")


def _inputs(x, n: int, who: str) -> list:
    """``x`` as a list of ``n`` inputs (a lone number or Value is accepted when n == 1; a numpy
    row or another sequence of numbers and Values becomes a list, as micrograd's ``zip`` reads it)."""
    if isinstance(x, (list, tuple)):
        pass
    elif isinstance(x, (Value, numbers.Real)) and not isinstance(x, bool):
        if n != 1:
            raise TypeError(f"{who} expects a list of {n} inputs, got one {type(x).__name__} {x!r}; pass a list such as "
                            f"[{', '.join(f'x{i + 1}' for i in range(min(n, 3)))}{', ...' if n > 3 else ''}]")
        x = [x]
    elif _is_row(x):
        x = list(x)
        for i, xi in enumerate(x):
            if isinstance(xi, bool) or not isinstance(xi, (Value, numbers.Real)):
                raise TypeError(f"{who} input {i} must be a number or a Value, got {type(xi).__name__} {xi!r}")
    else:
        raise TypeError(f"{who} expects a list of {n} numbers or Values, got {type(x).__name__} {x!r}")
    if len(x) != n:
        raise ValueError(f"{who} expects {n} inputs, got {len(x)}")
    return x


def _layer_sizes(nin, nouts) -> list[int]:
    """``[nin, *nouts]``: an MLP's input width followed by its layer widths, checked."""
    _positive_int(nin, "MLP nin")
    if not isinstance(nouts, (list, tuple)) or not nouts:
        raise ValueError(f"MLP nouts must be a non-empty list of layer widths, got {nouts!r}")
    for i, n in enumerate(nouts):
        _positive_int(n, f"MLP nouts[{i}]")
    return [nin] + list(nouts)


def _is_row(x) -> bool:
    """True for a sequence that can be read item by item (a numpy row, a range), not for text,
    mappings, sets or a 0-d array."""
    if isinstance(x, (str, bytes, Mapping)) or not hasattr(x, "__getitem__"):
        return False
    try:
        len(x)
    except TypeError:  # numpy's 0-d array has __len__ but no length
        return False
    return True


class Neuron(Module):
    """One neuron: activation(w·x + b), with ``nin`` weights ``w`` and a bias ``b`` (starting at 0).

    ``activation`` is "relu", "tanh", "sigmoid" or "linear"; ``init`` is "xavier", "he" or
    "uniform" (default: He for relu, Xavier otherwise); ``rng`` a ``random.Random``.
    ``nonlin=True/False`` is micrograd's spelling of relu/linear. ``fan_out`` is the width of
    the layer the neuron sits in (used by Xavier).
    """

    def __init__(self, nin, activation="relu", init=None, rng=None, nonlin=None, fan_out=1):
        _positive_int(nin, "Neuron nin")
        if nonlin is not None:
            activation = "relu" if checks.flag(nonlin, "Neuron nonlin") else "linear"
        self._act = activations.get(activation)
        self.activation = activation
        init = initialisation.check(init if init is not None else initialisation.default_for(activation))
        rng = initialisation.make_rng(rng)
        self.w = [Value(w) for w in initialisation.weights(init, nin, fan_out, rng)]
        self.b = Value(initialisation.bias(init, nin, rng))

    @property
    def nonlin(self) -> bool:
        """micrograd's flag: True unless the activation is linear; setting it picks relu or linear."""
        return self.activation != "linear"

    @nonlin.setter
    def nonlin(self, on) -> None:
        self.activation = "relu" if on else "linear"
        self._act = activations.get(self.activation)

    def forward(self, x):
        return each_sample(x, len(self.w), "Neuron", self._one)

    def _one(self, x) -> Value:
        x = _inputs(x, len(self.w), "Neuron")
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return self._act(act)

    def output_features(self, in_features: int) -> int:
        _same_features(self, in_features, len(self.w))
        return 1

    def extra_repr(self) -> str:
        return f"{len(self.w)}, activation={self.activation!r}"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; calling it always returns a list."""

    def __init__(self, nin, nout, activation="relu", init=None, rng=None, nonlin=None):
        _positive_int(nin, "Layer nin")
        _positive_int(nout, "Layer nout")
        rng = initialisation.make_rng(rng)
        self.neurons = [Neuron(nin, activation, init, rng, nonlin, fan_out=nout) for _ in range(nout)]

    def forward(self, x):
        return each_sample(x, len(self.neurons[0].w), "Layer", self._one)

    def _one(self, x) -> list[Value]:
        x = _inputs(x, len(self.neurons[0].w), "Layer")
        return [n(x) for n in self.neurons]

    def output_features(self, in_features: int) -> int:
        _same_features(self, in_features, len(self.neurons[0].w))
        return len(self.neurons)

    def _repr_children(self):
        return []

    def extra_repr(self) -> str:
        return f"{len(self.neurons[0].w)}, {len(self.neurons)}, activation={self.neurons[0].activation!r}"


class MLP(Module):
    """A multi-layer perceptron, as micrograd's: ``MLP(2, [16, 16, 1])``.

    Hidden layers use ``activation``; the last layer is linear unless ``output_activation``
    is given. With one output, calling the model returns a Value, else a list of Values.
    ``seed`` (or ``rng``) makes the initial weights reproducible bit for bit.
    """

    def __init__(self, nin, nouts, activation="relu", output_activation=None, init=None, seed=None, rng=None):
        sizes = _layer_sizes(nin, nouts)
        activations.get(activation)
        output_activation = output_activation or "linear"
        rng = initialisation.make_rng(rng, seed)
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation, init, rng)
            for i in range(len(nouts))
        ]

    def forward(self, x):
        return each_sample(x, len(self.layers[0].neurons[0].w), "MLP", self._one)

    def _one(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x


class Linear(Module):
    """y = W x + b with ``weight[out][in]`` and ``bias[out]`` (PyTorch's layout and signature).

    A sample (a list of ``in_features`` numbers or Values) gives a list of ``out_features``
    Values; a batch (a list of samples) gives one such row per sample. ``bias=False`` leaves
    the bias out. ``init`` defaults to "pytorch", PyTorch's own: weights and biases from
    U(−1/√in_features, 1/√in_features).
    """

    def __init__(self, in_features, out_features, bias=True, init="pytorch", rng=None, seed=None):
        _positive_int(in_features, "Linear in_features")
        _positive_int(out_features, "Linear out_features")
        checks.flag(bias, "Linear bias")
        initialisation.check(init)
        rng = initialisation.make_rng(rng, seed)
        self.weight = [[Value(w) for w in initialisation.weights(init, in_features, out_features, rng)] for _ in range(out_features)]
        self.bias = [Value(initialisation.bias(init, in_features, rng)) for _ in range(out_features)] if bias else []

    @property
    def in_features(self) -> int:
        return len(self.weight[0])

    @property
    def out_features(self) -> int:
        return len(self.weight)

    def forward(self, x):
        return each_sample(x, self.in_features, "Linear", self._one)

    def _one(self, x) -> list[Value]:
        x = _inputs(x, self.in_features, "Linear")
        if self.bias:
            return [sum((wi * xi for wi, xi in zip(row, x)), b) for row, b in zip(self.weight, self.bias)]
        return [sum(wi * xi for wi, xi in zip(row, x)) for row in self.weight]

    def output_features(self, in_features: int) -> int:
        _same_features(self, in_features, self.in_features)
        return self.out_features

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bool(self.bias)}"


class _Elementwise(Module):
    """Applies one activation to a Value, or to each item of a sample or a batch."""

    name = "linear"

    def forward(self, x):
        return map_scalars(activations.get(self.name), x)

    def output_features(self, in_features: int) -> int:
        return in_features


class ReLU(_Elementwise):
    """max(x, 0) on each input."""

    name = "relu"


class Tanh(_Elementwise):
    """tanh on each input."""

    name = "tanh"


class Sigmoid(_Elementwise):
    """σ on each input."""

    name = "sigmoid"


class Dropout(Module):
    """Inverted dropout: in training mode each input is zeroed with probability ``p`` and the
    kept ones are scaled by 1/(1 − p), so the expected value is unchanged; in eval mode the
    identity. ``p`` must be in [0, 1). The choices come from ``rng``/``seed``, one per
    number, sample after sample through a batch."""

    def __init__(self, p=0.5, rng=None, seed=None):
        checks.number(p, "Dropout p (a probability)", low=0, high=1, high_open=True)
        self.p = p  # kept as given, so the repr reads as PyTorch's
        self._rng = initialisation.make_rng(rng, seed)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        return map_scalars(self._drop, x)

    def _drop(self, x):
        return x * (0.0 if self._rng.random() < self.p else 1.0 / (1.0 - self.p))

    def output_features(self, in_features: int) -> int:
        return in_features

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


class Sequential(Module):
    """Modules applied one after the other: ``Sequential(Linear(2, 4), Tanh(), Linear(4, 1))``.

    Sub-modules are named "0", "1", …; index it as a list.
    """

    def __init__(self, *modules):
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential item {i} must be a Module, got {type(m).__name__} {m!r}")
        self._modules = list(modules)
        for i, m in enumerate(modules):
            object.__setattr__(m, "_scope_name", str(i))

    def named_children(self):
        return ((str(i), m) for i, m in enumerate(self._modules))

    def _own_parameters(self, prefix: str):
        for i, m in enumerate(self._modules):
            yield from m.named_parameters(f"{prefix}.{i}" if prefix else str(i))

    def forward(self, x):
        for m in self._modules:
            x = m(x)
        return x

    def __getitem__(self, i):
        return self._modules[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)
