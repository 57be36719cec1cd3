"""Optimizers with PyTorch's update rules, number for number: SGD (momentum, Nesterov,
weight decay), Adagrad, RMSprop, Adam and AdamW.

Each ``step()`` reads every parameter's ``.grad`` and changes its ``.data``. All new values
(parameters and optimizer state) are computed first; if any would not be a finite number
the step is refused with ``scalargrad.NonFiniteError`` naming the optimizer, the parameter
and the number, and no parameter or optimizer state is changed. Where PyTorch's numbers
are all finite, these are the same numbers, bit for bit (tests/test_nn_optim_torch.py):
each rule is written as PyTorch's CPU kernels compute it, with their fused multiply-adds
(``fma(a, b, c)`` = a·b + c rounded once, see :mod:`nn.rounding`).
"""

from __future__ import annotations

import math

from scalargrad import NonFiniteError, Value
from scalargrad.engine import checks

from .rounding import fma, lerp

_sqrt = math.sqrt
_isfinite = math.isfinite


def _parameter_list(params) -> tuple[list[Value], list[str]]:
    """The parameters to optimize and a name for each ('' when none is known)."""
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer params must be ordered (a list, e.g. model.parameters()), got a set")
    if isinstance(params, Value):
        raise TypeError("optimizer params must be a list of Values, got a single Value; wrap it: [v]")
    names = {}
    if callable(getattr(params, "parameters", None)):  # a model
        if callable(getattr(params, "named_parameters", None)):
            names = {id(p): name for name, p in params.named_parameters()}
        params = params.parameters()
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"optimizer params must be a list of Values, got {type(params).__name__}") from None
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"optimizer params[{i}] must be a Value, got {type(p).__name__} {p!r}")
        if id(p) in seen:
            raise ValueError(f"optimizer params[{i}] appears more than once in the parameter list")
        seen.add(id(p))
    return params, [names.get(id(p), p.label) for p in params]


class Optimizer:
    """Base class: holds the ordered parameter list, per-parameter state and ``zero_grad``.

    ``state[i]`` is None before parameter i's first step, then a tuple of floats named by
    ``state_names`` (e.g. Adam's first and second moments).
    """

    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        self.params, self._names = _parameter_list(params)
        self.lr = checks.number(lr, "learning rate lr", low=0)
        self.state = [None] * len(self.params)
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``.grad`` (one step of the rule), or change nothing
        and raise NonFiniteError if a new parameter or state number would not be finite."""
        t = self.steps + 1
        updates = []
        for i, (p, state) in enumerate(zip(self.params, self.state)):
            data, state = self._update(p.data, p.grad, state, t)
            if not (_isfinite(data) and all(map(_isfinite, state))):
                self._refuse(i, data, state)
            updates.append((data, state))
        for i, (p, (data, state)) in enumerate(zip(self.params, updates)):
            p.data = data
            self.state[i] = state
        self.steps = t

    def _refuse(self, i: int, data: float, state: tuple) -> None:
        """Raise NonFiniteError for parameter ``i``, naming the first number that is not finite."""
        p = self.params[i]
        where = f"{type(self).__name__}.step: {{}}parameter {i}{f' ({self._names[i]})' if self._names[i] else ''}"
        given = f"(data {p.data!r}, grad {p.grad!r})"
        for what, x in zip(self.state_names, state):  # the state first: an overflow there is the cause
            if not math.isfinite(x):
                raise NonFiniteError(
                    f"{where.format(f'the {what} of ')} would become {x!r} {given}; the gradient is too large "
                    "for the optimizer's state — lower the learning rate or scale the loss down. Nothing was changed"
                )
        if not math.isfinite(data):
            raise NonFiniteError(
                f"{where.format('')} would become {data!r} {given}; the run diverged — try a smaller learning rate. "
                "Nothing was changed"
            )

    def _update(self, x: float, g: float, state, t: int) -> tuple[float, tuple]:
        """(new data, new state) for one parameter at step ``t``; subclasses define the rule."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD):

    g ← ∇ + λ·x;  with momentum μ: b ← g (first step), else b ← μ·b + (1 − dampening)·g;
    g ← g + μ·b if nesterov else b;  x ← x − lr·g.
    """

    state_names = ("momentum buffer",)

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, dampening=0.0):
        super().__init__(params, lr)
        self.momentum = checks.number(momentum, "momentum", low=0)
        self.weight_decay = checks.number(weight_decay, "weight_decay", low=0)
        self.dampening = checks.number(dampening, "dampening", low=0)
        self.nesterov = checks.flag(nesterov, "nesterov")
        if nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError(f"nesterov needs momentum > 0 and dampening = 0, got momentum={momentum!r}, dampening={dampening!r}")

    def _update(self, x, g, state, t):
        if self.weight_decay:
            g = fma(self.weight_decay, x, g)
        if not self.momentum:
            return fma(-self.lr, g, x), ()
        buf = g if state is None else fma(1.0 - self.dampening, g, state[0] * self.momentum)
        g = fma(self.momentum, buf, g) if self.nesterov else buf
        return fma(-self.lr, g, x), (buf,)


class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad): g ← ∇ + λ·x;  s ← s + g²;  x ← x − lr_t · g / (√s + ε),
    with lr_t = lr / (1 + (t − 1)·lr_decay)."""

    state_names = ("sum of squared gradients",)

    def __init__(self, params, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, lr)
        self.lr_decay = checks.number(lr_decay, "lr_decay", low=0)
        self.weight_decay = checks.number(weight_decay, "weight_decay", low=0)
        self.initial_accumulator_value = checks.number(initial_accumulator_value, "initial_accumulator_value", low=0)
        self.eps = checks.number(eps, "eps", low=0, low_open=True)

    def _update(self, x, g, state, t):
        s = self.initial_accumulator_value if state is None else state[0]
        if self.weight_decay:
            g = fma(self.weight_decay, x, g)
        clr = self.lr / (1.0 + (t - 1) * self.lr_decay)
        s = fma(g, g, s)
        return x + (-clr * g) / (_sqrt(s) + self.eps), (s,)


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): g ← ∇ + λ·x;  v ← α·v + (1 − α)·g²;
    d ← √v + ε (centred: √max(v − ḡ², 0) + ε with ḡ ← α·ḡ + (1 − α)·g);
    x ← x − lr·g/d, or with momentum μ: b ← μ·b + g/d, x ← x − lr·b.

    Centred, v − ḡ² is a variance, ≥ 0 in exact arithmetic; with a constant gradient the two
    terms become equal and rounding can leave a tiny negative residue, which is taken as 0
    (PyTorch takes its square root and gets nan).
    """

    state_names = ("square average", "gradient average", "momentum buffer")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr)
        self.alpha = checks.number(alpha, "alpha", low=0, high=1, high_open=True)
        self.eps = checks.number(eps, "eps", low=0, low_open=True)
        self.weight_decay = checks.number(weight_decay, "weight_decay", low=0)
        self.momentum = checks.number(momentum, "momentum", low=0)
        self.centered = checks.flag(centered, "centered")

    def _update(self, x, g, state, t):
        v, avg_g, buf = (0.0, 0.0, 0.0) if state is None else state
        if self.weight_decay:
            g = fma(self.weight_decay, x, g)
        a = self.alpha
        v = fma((1.0 - a) * g, g, v * a)
        if self.centered:
            avg_g = lerp(avg_g, g, 1.0 - a)
            d = _sqrt(max(fma(-avg_g, avg_g, v), 0.0)) + self.eps  # max(nan, 0.0) stays nan
        else:
            d = _sqrt(v) + self.eps
        if self.momentum:
            buf = buf * self.momentum + g / d
            return fma(-self.lr, buf, x), (v, avg_g, buf)
        return x + (-self.lr * g) / d, (v, avg_g, buf)


class Adam(Optimizer):
    """Adam (torch.optim.Adam): g ← ∇ + λ·x;  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    x ← x − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)."""

    decoupled = False
    state_names = ("first moment m", "second moment v")

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(checks.number(b, f"beta{i}", low=0, high=1, high_open=True) for i, b in enumerate(betas, 1))
        self.eps = checks.number(eps, "eps", low=0, low_open=True)
        self.weight_decay = checks.number(weight_decay, "weight_decay", low=0)

    def _update(self, x, g, state, t):
        m, v = (0.0, 0.0) if state is None else state
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                x = x * (1.0 - self.lr * self.weight_decay)
            else:
                g = fma(self.weight_decay, x, g)
        m = lerp(m, g, 1.0 - b1)
        v = fma((1.0 - b2) * g, g, v * b2)
        step_size = self.lr / (1.0 - b1**t)
        denom = _sqrt(v) / (1.0 - b2**t) ** 0.5 + self.eps
        return x + (-step_size * m) / denom, (m, v)


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay — x ← x·(1 − lr·λ) first,
    then the Adam step without λ in the gradient. Default λ = 0.01."""

    decoupled = True

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
