"""Optimizers with PyTorch's update rules, number for number: SGD (momentum, Nesterov,
weight decay), Adagrad, RMSprop, Adam and AdamW.

Each ``step()`` reads every parameter's ``.grad`` and changes its ``.data``. All new values
are computed first; if any would not be a finite number the step is refused with
OverflowError and no parameter or optimizer state is changed.
"""

from __future__ import annotations

import math
import numbers

from scalargrad import Value

_sqrt = math.sqrt


def _hyper(x, what: str, low: float = 0.0, high: float | None = None, open_high: bool = True) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x):
        raise TypeError(f"{what} must be a finite number, got {type(x).__name__} {x!r}")
    if x < low or (high is not None and (x >= high if open_high else x > high)):
        bound = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{what} must be {bound}, got {x!r}")
    return float(x)


def _lerp(start: float, end: float, weight: float) -> float:
    """PyTorch's lerp (start + weight·(end − start)), with its two-branch rounding."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


class Optimizer:
    """Base class: holds the ordered parameter list, per-parameter state and ``zero_grad``."""

    def __init__(self, params, lr: float):
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer params must be ordered (a list, e.g. model.parameters()), got a set")
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()
        if isinstance(params, Value):
            raise TypeError("optimizer params must be a list of Values, got a single Value; wrap it: [v]")
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
        self.params = params
        self.lr = _hyper(lr, "learning rate lr")
        self.state = [None] * len(params)
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``.grad`` (one step of the rule)."""
        t = self.steps + 1
        updates = [self._update(p.data, p.grad, s, t) for p, s in zip(self.params, self.state)]
        for i, (data, _) in enumerate(updates):
            if not math.isfinite(data):
                raise OverflowError(
                    f"{type(self).__name__}.step: parameter {i} would become {data!r} "
                    f"(from data {self.params[i].data!r}, grad {self.params[i].grad!r}); "
                    "the run diverged — try a smaller learning rate. No parameter was changed"
                )
        for i, (p, (data, state)) in enumerate(zip(self.params, updates)):
            p.data = data
            self.state[i] = state
        self.steps = t

    def _update(self, x: float, g: float, state, t: int):
        """(new data, new state) for one parameter at step ``t``; subclasses define the rule."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD):

    g ← ∇ + λ·x;  with momentum μ: b ← g (first step), else b ← μ·b + (1 − dampening)·g;
    g ← g + μ·b if nesterov else b;  x ← x − lr·g.
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, dampening=0.0):
        super().__init__(params, lr)
        self.momentum = _hyper(momentum, "momentum")
        self.weight_decay = _hyper(weight_decay, "weight_decay")
        self.dampening = _hyper(dampening, "dampening")
        if nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError(f"nesterov needs momentum > 0 and dampening = 0, got momentum={momentum!r}, dampening={dampening!r}")
        self.nesterov = bool(nesterov)

    def _update(self, x, g, buf, t):
        if self.weight_decay:
            g = g + self.weight_decay * x
        if self.momentum:
            buf = g if buf is None else self.momentum * buf + (1.0 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        return x - self.lr * g, buf


class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad): g ← ∇ + λ·x;  s ← s + g²;  x ← x − lr_t · g / (√s + ε),
    with lr_t = lr / (1 + (t − 1)·lr_decay)."""

    def __init__(self, params, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, lr)
        self.lr_decay = _hyper(lr_decay, "lr_decay")
        self.weight_decay = _hyper(weight_decay, "weight_decay")
        self.initial_accumulator_value = _hyper(initial_accumulator_value, "initial_accumulator_value")
        self.eps = _hyper(eps, "eps")

    def _update(self, x, g, s, t):
        if s is None:
            s = self.initial_accumulator_value
        if self.weight_decay:
            g = g + self.weight_decay * x
        clr = self.lr / (1.0 + (t - 1) * self.lr_decay)
        s = s + g * g
        return x - clr * (g / (_sqrt(s) + self.eps)), s


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): g ← ∇ + λ·x;  v ← α·v + (1 − α)·g²;
    d ← √v + ε (centred: √(v − ḡ²) + ε with ḡ ← α·ḡ + (1 − α)·g);
    x ← x − lr·g/d, or with momentum μ: b ← μ·b + g/d, x ← x − lr·b."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr)
        self.alpha = _hyper(alpha, "alpha", 0.0, 1.0)
        self.eps = _hyper(eps, "eps")
        self.weight_decay = _hyper(weight_decay, "weight_decay")
        self.momentum = _hyper(momentum, "momentum")
        self.centered = bool(centered)

    def _update(self, x, g, state, t):
        v, avg_g, buf = state if state is not None else (0.0, 0.0, 0.0)
        if self.weight_decay:
            g = g + self.weight_decay * x
        a = self.alpha
        v = v * a + (1.0 - a) * g * g
        if self.centered:
            avg_g = _lerp(avg_g, g, 1.0 - a)
            d = _sqrt(v - avg_g * avg_g) + self.eps
        else:
            d = _sqrt(v) + self.eps
        if self.momentum:
            buf = buf * self.momentum + g / d
            return x - self.lr * buf, (v, avg_g, buf)
        return x - self.lr * (g / d), (v, avg_g, buf)


class Adam(Optimizer):
    """Adam (torch.optim.Adam): g ← ∇ + λ·x;  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    x ← x − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)."""

    decoupled = False

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = (_hyper(betas[0], "beta1", 0.0, 1.0), _hyper(betas[1], "beta2", 0.0, 1.0))
        self.eps = _hyper(eps, "eps")
        self.weight_decay = _hyper(weight_decay, "weight_decay")

    def _update(self, x, g, state, t):
        m, v = state if state is not None else (0.0, 0.0)
        b1, b2 = self.betas
        if self.weight_decay:
            if self.decoupled:
                x = x * (1.0 - self.lr * self.weight_decay)
            else:
                g = g + self.weight_decay * x
        m = _lerp(m, g, 1.0 - b1)
        v = v * b2 + (1.0 - b2) * g * g
        step_size = self.lr / (1.0 - b1**t)
        denom = _sqrt(v) / _sqrt(1.0 - b2**t) + self.eps
        return x - step_size * (m / denom), (m, v)


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay — x ← x·(1 − lr·λ) first,
    then the Adam step without λ in the gradient. Default λ = 0.01."""

    decoupled = True

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
