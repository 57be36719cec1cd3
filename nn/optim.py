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
from operator import is_

from scalargrad import NonFiniteError, Value
from scalargrad.engine import checks

from .rounding import fma, lerp

_isfinite = math.isfinite
_IMMUTABLE = (float, int, bool, tuple)  # an option of these types cannot change without a new object
_np = False  # numpy, imported on the first step that can use it (None where it is missing)

#: From this many parameters in a group, a step computes them together as numpy arrays. Measured:
#: for 93 (lecture 003's model) SGD's step takes 74 µs instead of 93 and Adam's 168 instead of 195;
#: for 337 (micrograd's moons MLP) 183 instead of 324 and 534 instead of 709; for 3,000, 1.1 ms
#: instead of 2.9 and 2.3 instead of 6.8; at 64, Adam is still faster one parameter at a time.
TOGETHER_FROM = 80


def _numpy():
    global _np
    if _np is False:
        try:
            import numpy as _np
        except ImportError:  # the browser course: every step one parameter at a time
            _np = None
    return _np


def _sqrt(x):
    """The correctly rounded square root, of a float or of each number of an array."""
    return _np.sqrt(x) if hasattr(x, "shape") else math.sqrt(x)


def _at_least_zero(x):
    """x, or 0.0 where x < 0 (nan stays nan, −0.0 stays −0.0: Python's max(x, 0.0))."""
    return _np.where(x < 0.0, 0.0, x) if hasattr(x, "shape") else max(x, 0.0)


def _flat(items) -> list:
    """A list with the lists inside it (a Linear layer's weight rows) spread out, in order."""
    flat = []
    for item in items:
        if isinstance(item, (list, tuple)):
            flat.extend(_flat(item))
        else:
            flat.append(item)
    return flat


def _parameter_list(params, what: str = "optimizer params", one=False) -> tuple[list[Value], list[str]]:
    """The parameters to optimize and a name for each ('' when none is known): from a list of Values
    (rows of them too, as ``layer.weight``) or a model; with ``one``, a single Value (a group's
    ``"params"`` may be one, as a tensor is in PyTorch)."""
    if isinstance(params, (set, frozenset)):
        raise TypeError(f"{what} must be ordered (a list, e.g. model.parameters()), got a set")
    if isinstance(params, Value):
        if one:
            params = [params]
        else:
            raise TypeError(f"{what} must be a list of Values, got a single Value; wrap it: [v]")
    names = {}
    if callable(getattr(params, "parameters", None)):  # a model
        if callable(getattr(params, "named_parameters", None)):
            names = {id(p): name for name, p in params.named_parameters()}
        params = params.parameters()
    try:
        params = _flat(params)
    except TypeError:
        raise TypeError(f"{what} must be a list of Values, got {checks.excerpt(params)}") from None
    if not params:
        raise ValueError(f"{what} is an empty list")
    seen = set()
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"{what}[{i}] must be a Value, got {checks.excerpt(p)}")
        if id(p) in seen:
            raise ValueError(f"{what}[{i}] appears more than once in the parameter list")
        seen.add(id(p))
    return params, [names.get(id(p), p.label) for p in params]


def _is_groups(params) -> bool:
    return isinstance(params, (list, tuple)) and bool(params) and all(isinstance(g, dict) for g in params)


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step`` and
    ``state_dict``, as ``torch.optim.Optimizer``.

    ``params`` is a list of Values (or a model), or PyTorch's parameter groups: a list of dicts,
    each with ``"params"`` and any of the optimizer's options, e.g.
    ``SGD([{"params": weights, "weight_decay": 3.0}, {"params": biases}], lr=0.03)``; the
    constructor's keywords are the defaults of every group. ``param_groups`` holds the groups
    with all their options; change one (``group["lr"] = 0.01``) and the next step uses it.
    ``state[i]`` is None before parameter i's first step, then a tuple of floats named by
    ``state_names`` (e.g. Adam's first and second moments); ``params`` lists every group's
    parameters in order.
    """

    state_names: tuple[str, ...] = ()
    #: Options a group may not set: PyTorch reads them from the constructor for every group.
    constructor_only: tuple[str, ...] = ()
    #: Each option's check: (value, what) -> the checked value (TypeError or ValueError otherwise).
    options: dict = {"lr": lambda v, what: checks.number(v, what, low=0)}

    def __init__(self, params, defaults: dict):
        name = type(self).__name__
        self.defaults = self._checked(dict(defaults), f"{name}")
        if _is_groups(params):
            groups = [self._group(g, i) for i, g in enumerate(params)]
        else:
            ps, names = _parameter_list(params)
            groups = [{"params": ps, **self.defaults}]
            self._group_names = [names]
        self.param_groups = groups
        owner = {}
        for k, group in enumerate(groups):
            for p in group["params"]:
                if id(p) in owner:
                    raise ValueError(f"{name}: a parameter ({checks.excerpt(p)}) is in param_groups[{owner[id(p)]}] "
                                     f"and param_groups[{k}]; each parameter may be in one group")
                owner[id(p)] = k
        self.params = [p for group in groups for p in group["params"]]
        self._names = [n for names in self._group_names for n in names]
        self.state = [None] * len(self.params)
        self.steps = 0

    def _group(self, group: dict, k: int) -> dict:
        """Group ``k`` with the defaults filled in, checked: it has ``"params"`` and only known options."""
        what = f"{type(self).__name__} param_groups[{k}]"
        if "params" not in group:
            raise ValueError(f"{what} has no 'params': each group is a dict such as {{'params': [...], 'lr': 0.1}}")
        unknown = [key for key in group if key != "params" and key not in self.options]
        if unknown:
            raise ValueError(f"{what} has the unknown option {unknown[0]!r}; {type(self).__name__}'s options are "
                             f"{', '.join(self.options)}")
        fixed = [key for key in group if key in self.constructor_only]
        if fixed:
            raise ValueError(f"{what} sets {fixed[0]!r}, which PyTorch takes from the constructor for every group: "
                             f"give it to {type(self).__name__}(..., {fixed[0]}=...)")
        ps, names = _parameter_list(group["params"], f"{what}['params']", one=True)
        if not hasattr(self, "_group_names"):
            self._group_names = []
        self._group_names.append(names)
        options = self._checked({**self.defaults, **{key: v for key, v in group.items() if key != "params"}}, what)
        return {"params": ps, **options}

    def _checked(self, options: dict, what: str) -> dict:
        """``options`` with every value checked (each option's own check, then ``_check_together``)."""
        checked = {key: self.options[key](value, f"{what} {key}") for key, value in options.items()}
        self._check_together(checked, what)
        return checked

    def _check_together(self, options: dict, what: str) -> None:
        """Checks that involve two options (nesterov needs momentum); none by default."""

    @property
    def lr(self) -> float:
        """The first group's learning rate (the only one, without groups)."""
        return self.param_groups[0]["lr"]

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``.grad`` (one step of its group's rule), or change nothing
        and raise NonFiniteError if a new parameter or state number would not be finite.

        Each group's options are checked first (a ``"lr"`` set to -1 or "0.1" between steps is
        refused with the constructor's error), so a schedule can change them between steps."""
        self._step(None)

    def _step(self, arrays) -> None:
        """``step``, with ``arrays`` None (every ``.data`` and ``.grad`` read here) or (data, grads):
        numpy float64 arrays of them in the order of ``params``, which the caller has just read or
        written (nn.TrainingStep: the gradients come from a compiled program as one array)."""
        t = self.steps + 1
        groups = [self._checked_group(k, g) for k, g in enumerate(self.param_groups)]
        datas, states, i = [], [], 0
        for group, options in zip(self.param_groups, groups):
            n = len(group["params"])
            given = None if arrays is None else (arrays[0][i:i + n], arrays[1][i:i + n])
            together = self._update_together(group["params"], self.state[i:i + n], t, options, given)
            if together is not None:
                datas += together[0]
                states += together[1]
                i += n
                continue
            for p in group["params"]:
                data, state = self._update(p.data, p.grad, self.state[i], t, options)
                if not (_isfinite(data) and all(map(_isfinite, state))):
                    self._refuse(i, data, state)
                datas.append(data)
                states.append(state)
                i += 1
        for p, data in zip(self.params, datas):
            p.data = data
        self.state = states
        self.steps = t

    def _checked_group(self, k: int, group: dict) -> dict:
        """Group ``k``'s options, checked; checked again only when one of them is not the very
        object it was at the last check (a schedule sets a new number: 5 µs a step saved)."""
        keys, values = tuple(group), tuple(group.values())
        cache = self.__dict__.setdefault("_checked_options", {})
        seen = cache.get(k)
        if seen is not None and seen[0] == keys and all(map(is_, seen[1], values)):
            return seen[2]
        given = {key: v for key, v in group.items() if key != "params"}
        checked = self._checked(given, f"{type(self).__name__} param_groups[{k}]")
        if all(type(v) in _IMMUTABLE for v in given.values()):  # a list could change in place, unseen
            cache[k] = (keys, values, checked)
        return checked

    def _update_together(self, params, states, t, options, arrays=None):
        """One group's updates computed at once: ``_update`` on numpy arrays of every parameter's
        data, gradient and state (the same operations, so the same numbers, bit for bit), read
        here or given as ``arrays`` (data, grads). None, for the update one parameter at a time,
        where that is cheaper (fewer than ``TOGETHER_FROM`` parameters), where numpy is missing
        (the browser course), where the numbers are not all floats or the states not all alike,
        or where a result is not finite (the one-at-a-time update then names it)."""
        if len(params) < TOGETHER_FROM or _numpy() is None:
            return None
        np = _np
        fresh = states.count(None)
        if 0 < fresh < len(states):
            return None
        if arrays is None:
            data, grads = [p.data for p in params], [p.grad for p in params]
            if not set(map(type, data)) | set(map(type, grads)) <= {float}:
                return None
            arrays = np.array(data), np.array(grads)
        state = None if fresh else () if not states[0] else tuple(np.array(column) for column in zip(*states))
        n = len(params)
        with np.errstate(all="ignore"):
            new, new_state = self._update(*arrays, state, t, options)
            new_state = [s if getattr(s, "shape", None) == (n,) else np.broadcast_to(s, n) for s in new_state]
            if not all(map(checks.all_finite, (new, *new_state))):
                return None
        return new.tolist(), list(zip(*(s.tolist() for s in new_state))) if new_state else [()] * n

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

    def _update(self, x: float, g: float, state, t: int, o: dict) -> tuple[float, tuple]:
        """(new data, new state) for one parameter at step ``t`` with its group's options ``o``;
        subclasses define the rule."""
        raise NotImplementedError

    # ------------------------------------------------------------ state_dict

    def state_dict(self) -> dict:
        """The optimizer's state as PyTorch lays it out, with plain numbers: ``{"state": {i: {name:
        number}}, "param_groups": [{options..., "params": [i, ...]}], "steps": t}``, where i indexes
        ``params`` (every group's parameters in order). JSON-ready (json.dumps turns i into a str)."""
        state = {i: dict(zip(self.state_names, s)) for i, s in enumerate(self.state) if s is not None}
        groups, i = [], 0
        for group in self.param_groups:
            n = len(group["params"])
            groups.append({**{k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items() if k != "params"},
                           "params": list(range(i, i + n))})
            i += n
        return {"state": state, "param_groups": groups, "steps": self.steps}

    def load_state_dict(self, state_dict: dict) -> None:
        """Take the options and state of ``state_dict`` (from ``state_dict()``, or read back from JSON).
        Checked whole before anything changes: the same groups of the same sizes, known options with
        valid values, finite state numbers; ValueError (or TypeError) naming the first problem."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups", "steps"}:
            raise ValueError(f"{name}.load_state_dict expects the dict state_dict() gives, with 'state', 'param_groups' "
                             f"and 'steps', got {checks.excerpt(state_dict)}")
        groups = state_dict["param_groups"]
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state has {len(groups) if isinstance(groups, list) else 'no'} "
                             f"parameter group(s), this optimizer {len(self.param_groups)}")
        options, start = [], 0
        for k, (theirs, ours) in enumerate(zip(groups, self.param_groups)):
            n = len(ours["params"])
            if not isinstance(theirs, dict) or theirs.get("params") != list(range(start, start + n)):
                raise ValueError(f"{name}.load_state_dict: param_groups[{k}] does not hold parameters {start}..{start + n - 1}")
            unknown = [key for key in theirs if key != "params" and key not in self.options]
            if unknown:
                raise ValueError(f"{name}.load_state_dict: param_groups[{k}] has the unknown option {unknown[0]!r}")
            given = {key: tuple(v) if isinstance(v, list) else v for key, v in theirs.items() if key != "params"}
            options.append(self._checked(given, f"{name}.load_state_dict param_groups[{k}]"))
            start += n
        state = [None] * len(self.params)
        for key, numbers in state_dict["state"].items():
            i = checks.whole(int(key) if isinstance(key, str) and key.isdigit() else key, f"{name}.load_state_dict state key",
                             low=0, high=len(self.params) - 1)
            if not isinstance(numbers, dict) or set(numbers) != set(self.state_names):
                raise ValueError(f"{name}.load_state_dict: state[{i}] must have {', '.join(self.state_names) or 'nothing'}, "
                                 f"got {checks.excerpt(numbers)}")
            state[i] = tuple(checks.number(numbers[s], f"{name}.load_state_dict state[{i}] {s}") for s in self.state_names)
        steps = checks.whole(state_dict["steps"], f"{name}.load_state_dict steps", low=0)
        for group, checked in zip(self.param_groups, options):
            group.update(checked)
        self.state, self.steps = state, steps

    def __repr__(self) -> str:
        if len(self.param_groups) == 1:
            return f"{type(self).__name__}({len(self.params)} parameters, lr={self.lr})"
        sizes = ", ".join(str(len(g["params"])) for g in self.param_groups)
        return f"{type(self).__name__}({len(self.params)} parameters in {len(self.param_groups)} groups of {sizes})"


def _number(**bounds):
    return lambda v, what: checks.number(v, what, **bounds)


def _betas(value, what):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{what} must be a pair (beta1, beta2), got {checks.excerpt(value)}")
    return tuple(checks.number(b, f"{what}[{i}]", low=0, high=1, high_open=True) for i, b in enumerate(value))


class SGD(Optimizer):
    """Stochastic gradient descent (torch.optim.SGD):

    g ← ∇ + λ·x;  with momentum μ: b ← g (first step), else b ← μ·b + (1 − dampening)·g;
    g ← g + μ·b if nesterov else b;  x ← x − lr·g.
    """

    state_names = ("momentum buffer",)
    options = {**Optimizer.options, "momentum": _number(low=0), "weight_decay": _number(low=0),
               "dampening": _number(low=0), "nesterov": checks.flag}

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False, dampening=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov,
                                      dampening=dampening))

    def _check_together(self, o, what):
        if o["nesterov"] and (o["momentum"] == 0.0 or o["dampening"] != 0.0):
            raise ValueError(f"{what}: nesterov needs momentum > 0 and dampening = 0, got momentum={o['momentum']!r}, "
                             f"dampening={o['dampening']!r}")

    def _update(self, x, g, state, t, o):
        if o["weight_decay"]:
            g = fma(o["weight_decay"], x, g)
        momentum = o["momentum"]
        if not momentum:
            return fma(-o["lr"], g, x), ()
        buf = g if not state else fma(1.0 - o["dampening"], g, state[0] * momentum)  # no buffer yet: it starts at g
        g = fma(momentum, buf, g) if o["nesterov"] else buf
        return fma(-o["lr"], g, x), (buf,)


class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad): g ← ∇ + λ·x;  s ← s + g²;  x ← x − lr_t · g / (√s + ε),
    with lr_t = lr / (1 + (t − 1)·lr_decay)."""

    state_names = ("sum of squared gradients",)
    constructor_only = ("initial_accumulator_value",)
    options = {**Optimizer.options, "lr_decay": _number(low=0), "weight_decay": _number(low=0),
               "initial_accumulator_value": _number(low=0), "eps": _number(low=0, low_open=True)}

    def __init__(self, params, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, x, g, state, t, o):
        s = o["initial_accumulator_value"] if state is None else state[0]
        if o["weight_decay"]:
            g = fma(o["weight_decay"], x, g)
        clr = o["lr"] / (1.0 + (t - 1) * o["lr_decay"])
        s = fma(g, g, s)
        return x + (-clr * g) / (_sqrt(s) + o["eps"]), (s,)


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop): g ← ∇ + λ·x;  v ← α·v + (1 − α)·g²;
    d ← √v + ε (centred: √max(v − ḡ², 0) + ε with ḡ ← α·ḡ + (1 − α)·g);
    x ← x − lr·g/d, or with momentum μ: b ← μ·b + g/d, x ← x − lr·b.

    Centred, v − ḡ² is a variance, ≥ 0 in exact arithmetic; with a constant gradient the two
    terms become equal and rounding can leave a tiny negative residue, which is taken as 0
    (PyTorch takes its square root and gets nan).
    """

    state_names = ("square average", "gradient average", "momentum buffer")
    options = {**Optimizer.options, "alpha": _number(low=0, high=1, high_open=True), "eps": _number(low=0, low_open=True),
               "weight_decay": _number(low=0), "momentum": _number(low=0), "centered": checks.flag}

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _update(self, x, g, state, t, o):
        v, avg_g, buf = (0.0, 0.0, 0.0) if state is None else state
        if o["weight_decay"]:
            g = fma(o["weight_decay"], x, g)
        a = o["alpha"]
        v = fma((1.0 - a) * g, g, v * a)
        if o["centered"]:
            avg_g = lerp(avg_g, g, 1.0 - a)
            d = _sqrt(_at_least_zero(fma(-avg_g, avg_g, v))) + o["eps"]
        else:
            d = _sqrt(v) + o["eps"]
        if o["momentum"]:
            buf = buf * o["momentum"] + g / d
            return fma(-o["lr"], buf, x), (v, avg_g, buf)
        return x + (-o["lr"] * g) / d, (v, avg_g, buf)


class Adam(Optimizer):
    """Adam (torch.optim.Adam): g ← ∇ + λ·x;  m ← β₁m + (1 − β₁)g;  v ← β₂v + (1 − β₂)g²;
    x ← x − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)."""

    decoupled = False
    state_names = ("first moment m", "second moment v")
    options = {**Optimizer.options, "betas": _betas, "eps": _number(low=0, low_open=True), "weight_decay": _number(low=0)}

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def _update(self, x, g, state, t, o):
        m, v = (0.0, 0.0) if state is None else state
        b1, b2 = o["betas"]
        lr, weight_decay = o["lr"], o["weight_decay"]
        if weight_decay:
            if self.decoupled:
                x = x * (1.0 - lr * weight_decay)
            else:
                g = fma(weight_decay, x, g)
        m = lerp(m, g, 1.0 - b1)
        v = fma((1.0 - b2) * g, g, v * b2)
        step_size = lr / (1.0 - b1**t)
        denom = _sqrt(v) / (1.0 - b2**t) ** 0.5 + o["eps"]
        return x + (-step_size * m) / denom, (m, v)


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay — x ← x·(1 − lr·λ) first,
    then the Adam step without λ in the gradient. Default λ = 0.01."""

    decoupled = True

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)


OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}
