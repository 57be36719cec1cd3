"""``to_torch`` and ``from_torch``: the same model, with the same weights, in PyTorch and in nn.

Supported layers: ``Linear``, ``ReLU``, ``Tanh``, ``Sigmoid``, ``Dropout``, ``BatchNorm1d`` and
``Sequential``, and a model of one's own (a ``Module`` subclass) whose sub-modules run one after
the other in the order they were set, as the lectures' ``Model`` does; such a model comes back
as a class of the same name whose forward is that chain, and is checked to give the same outputs
as the original on two samples (so a forward that does something else is refused). Weights
travel as float64. torch is imported only inside these two functions (``pip install
'scalargrad-lab[torch]'``); nothing here runs unless they are called.
"""

from __future__ import annotations

import copy
import math
import random

from scalargrad import NonFiniteError, no_grad

from .layers import Dropout, Linear, ReLU, Sequential, Sigmoid, Tanh
from .module import Module
from .normalization import BatchNorm1d
from .summary import layers_in_order

_SUPPORTED = "Linear, ReLU, Tanh, Sigmoid, Dropout, BatchNorm1d, Sequential, or a Module subclass chaining them"
_NN_LAYER_MODULES = ("nn.layers", "nn.normalization", "nn.loss_modules")
_ACTIVATIONS = {ReLU: "ReLU", Tanh: "Tanh", Sigmoid: "Sigmoid"}
#: How far apart the two models' outputs may be in the chain check (float64 rounding only).
_CHAIN_TOLERANCE = 1e-9


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(
            "nn.to_torch / nn.from_torch need PyTorch, which is not installed: pip install 'scalargrad-lab[torch]' "
            "(or a CPU-only wheel: pip install torch --index-url https://download.pytorch.org/whl/cpu)"
        ) from None
    return torch


def to_torch(model: Module):
    """A ``torch.nn.Module`` with ``model``'s architecture, weights and buffers (float64), in the same mode."""
    torch = _torch()
    if isinstance(model, Module):
        _refuse_shared(type(model).__name__, _nn_modules(model, type(model).__name__))
    return _convert(torch, model, Module, "to_torch expects an nn Module", _to_torch, lambda converted: (model, converted))


def from_torch(module):
    """The nn model for a PyTorch model made of the supported layers, with its weights and buffers, in the same mode."""
    torch = _torch()
    if isinstance(module, torch.nn.Module):
        _refuse_shared(type(module).__name__, ((f"{type(module).__name__}.{name}" if name else type(module).__name__, m)
                                               for name, m in module.named_modules(remove_duplicate=False)))
    return _convert(torch, module, torch.nn.Module, "from_torch expects a torch.nn.Module", _from_torch, lambda converted: (converted, module))


def _nn_modules(m: Module, where: str):
    yield where, m
    for name, child in m.named_children():
        yield from _nn_modules(child, f"{where}.{name}")


def _refuse_shared(model_name: str, named_modules) -> None:
    """One layer used at two places shares its weights; the converted model could not keep that."""
    seen = {}
    for where, m in named_modules:
        if id(m) in seen:
            raise TypeError(f"{model_name}: the same {type(m).__name__} sits at {seen[id(m)]} and {where}; shared layers do not convert")
        seen[id(m)] = where


def _convert(torch, source, kind, refusal: str, convert, ours_and_theirs):
    if not isinstance(source, kind):
        raise TypeError(f"{refusal}, got {type(source).__name__} {source!r}")
    _refuse_non_finite(*ours_and_theirs(source) if kind is Module else (None, source), torch)
    with torch.no_grad():
        converted = convert(torch, source, type(source).__name__)
    _copy_modes(source, converted)
    _check_same_outputs(*ours_and_theirs(converted), torch)
    return converted


def _tree(m) -> list:
    """``m`` and its sub-modules, parents first, in the order of their children (nn's and torch's alike)."""
    found, stack = [], [m]
    while stack:
        module = stack.pop()
        found.append(module)
        stack.extend(reversed([child for _, child in module.named_children()]))
    return found


def _copy_modes(source, converted) -> None:
    """Each converted module in its own source module's mode (train or eval), set on it alone:
    a BatchNorm1d in eval() inside a model in train() stays in eval()."""
    for theirs, ours in zip(_tree(source), _tree(converted), strict=True):
        ours.training = theirs.training


def _refuse_non_finite(ours, theirs, torch) -> None:
    """Refuse a model with an inf or nan weight or buffer, naming it, before converting anything."""
    if ours is not None:
        named = [(name, float(p.data)) for name, p in ours.named_parameters()]
        named += [(f"{where}.{name}", float(x)) for where, m in _nn_modules(ours, "")
                  for name in ("running_mean", "running_var") if isinstance(m, BatchNorm1d) and m.track_running_stats
                  for x in getattr(m, name)]
    else:
        named = [(name, x) for name, t in [*theirs.named_parameters(), *theirs.named_buffers()]
                 if t.is_floating_point() for x in t.detach().double().flatten().tolist()]
    for name, x in named:
        if not math.isfinite(x):
            raise NonFiniteError(f"{type(ours if ours is not None else theirs).__name__}: the weight or buffer "
                                 f"{name.lstrip('.')} is {x!r}; only finite numbers convert (load or set finite ones first)")


# ---------------------------------------------------------------- nn -> torch


def _to_torch(torch, m: Module, where: str):
    tnn = torch.nn
    if isinstance(m, Linear):
        t = tnn.Linear(m.in_features, m.out_features, bias=bool(m.bias), dtype=torch.float64)
        t.weight.copy_(torch.tensor([[w.data for w in row] for row in m.weight], dtype=torch.float64))
        if m.bias:
            t.bias.copy_(torch.tensor([b.data for b in m.bias], dtype=torch.float64))
        return t
    if type(m) in _ACTIVATIONS:
        return getattr(tnn, _ACTIVATIONS[type(m)])()
    if isinstance(m, Dropout):
        return tnn.Dropout(m.p)
    if isinstance(m, BatchNorm1d):
        no_bias = {"bias": False} if m.affine and not m.bias else {}  # older PyTorch has no bias argument
        t = tnn.BatchNorm1d(m.num_features, eps=m.eps, momentum=m.momentum, affine=m.affine,
                            track_running_stats=m.track_running_stats, dtype=torch.float64, **no_bias)
        if m.affine:
            t.weight.copy_(torch.tensor([g.data for g in m.weight], dtype=torch.float64))
        if m.bias:
            t.bias.copy_(torch.tensor([b.data for b in m.bias], dtype=torch.float64))
        if m.track_running_stats:
            t.running_mean.copy_(torch.tensor(m.running_mean, dtype=torch.float64))
            t.running_var.copy_(torch.tensor(m.running_var, dtype=torch.float64))
            t.num_batches_tracked.fill_(m.num_batches_tracked)
        return t
    if isinstance(m, Sequential):
        return tnn.Sequential(*(_to_torch(torch, child, f"{where}.{i}") for i, child in enumerate(m)))
    if _is_own_chain(m):
        children = list(m.named_children())
        in_children = {id(p) for _, child in children for p in child.parameters()}
        _refuse_own_parameters(m, where, [p for p in m.parameters() if id(p) not in in_children])
        own = type(m.__class__.__name__, (tnn.Module,), {"forward": _chain_forward, "__module__": "nn.bridge"})()
        for name, child in children:
            own.add_module(name, _to_torch(torch, child, f"{where}.{name}"))
        return own
    raise TypeError(f"to_torch: {type(m).__name__} (at {where}) has no PyTorch counterpart here; supported: {_SUPPORTED}")


def _chain_forward(self, x):
    for child in self.children():
        x = child(x)
    return x


def _is_own_chain(m: Module) -> bool:
    """A Module subclass of one's own (not one of nn's layer classes) with sub-modules."""
    return type(m).__module__ not in _NN_LAYER_MODULES and any(True for _ in m.named_children())


def _refuse_own_parameters(m, where: str, own: list) -> None:
    if own:
        raise TypeError(f"{type(m).__name__} (at {where}) has parameters of its own outside its layers; only a chain of layers converts")


# ---------------------------------------------------------------- torch -> nn


def _from_torch(torch, t, where: str) -> Module:
    tnn = torch.nn
    kind = type(t)
    if kind is tnn.Linear:
        m = Linear(t.in_features, t.out_features, bias=t.bias is not None, rng=random.Random(0))
        for row, values in zip(m.weight, t.weight.double().tolist()):
            for w, x in zip(row, values):
                w.data = x
        if t.bias is not None:
            for b, x in zip(m.bias, t.bias.double().tolist()):
                b.data = x
        return m
    for ours, name in _ACTIVATIONS.items():
        if kind is getattr(tnn, name):
            return ours()
    if kind is tnn.Dropout:
        return Dropout(t.p)
    if kind is tnn.BatchNorm1d:
        m = BatchNorm1d(t.num_features, eps=t.eps, momentum=t.momentum, affine=t.affine,
                        track_running_stats=t.track_running_stats, bias=t.bias is not None or not t.affine)
        for mine, theirs in ((m.weight, t.weight), (m.bias, t.bias)):
            for value, x in zip(mine, theirs.double().tolist() if theirs is not None else []):
                value.data = x
        if t.track_running_stats:
            m.running_mean = t.running_mean.double().tolist()
            m.running_var = t.running_var.double().tolist()
            m.num_batches_tracked = int(t.num_batches_tracked)
        return m
    if kind is tnn.Sequential:
        return Sequential(*(_from_torch(torch, child, f"{where}.{name}") for name, child in t.named_children()))
    children = list(t.named_children())
    if kind.__module__.split(".")[0] != "torch" and children:
        _refuse_own_parameters(t, where, list(t.named_parameters(recurse=False)))
        own = type(kind.__name__, (Module,), {"forward": _chain_forward_nn, "__module__": "nn.bridge"})()
        for name, child in children:
            setattr(own, name, _from_torch(torch, child, f"{where}.{name}"))
        return own
    raise TypeError(f"from_torch: {kind.__name__} (at {where}) has no scalargrad counterpart; supported: {_SUPPORTED}")


def _chain_forward_nn(self, x):
    for _, child in self.named_children():
        x = child(x)
    return x


# ---------------------------------------------------------------- the chain check


def _check_same_outputs(ours: Module, theirs, torch) -> None:
    """Refuse a model of one's own whose forward is not the chain of its sub-modules."""
    features = _first_in_features(ours)
    if features is None:
        return
    sample = [[((3 * i + 7 * j) % 11) / 11.0 - 0.5 for j in range(features)] for i in range(2)]
    modes = [(m, m.training) for m in (*_tree(ours), *_tree(theirs))]
    ours.eval()
    theirs.eval()
    try:
        with no_grad():
            mine = [[v.data for v in row] for row in ours(sample)]
        with torch.no_grad():  # on a float64 copy, whatever the model's own dtype
            other = copy.deepcopy(theirs).double()(torch.tensor(sample, dtype=torch.float64)).tolist()
    except Exception as error:  # noqa: BLE001 - any failure means the forwards differ
        raise TypeError(f"{type(ours).__name__}: its forward is not a chain of its layers ({type(error).__name__}: {error}); only such models convert") from None
    finally:
        for m, training in modes:  # each module's own mode back, as it was
            m.training = training
    if _shape_of(mine) != _shape_of(other) or any(abs(a - b) > _CHAIN_TOLERANCE * (1.0 + abs(b)) for ra, rb in zip(mine, other) for a, b in zip(ra, rb)):
        raise TypeError(f"{type(ours).__name__}: its forward does not give what the chain of its layers gives; only such models convert")


def _first_in_features(m: Module):
    for layer in layers_in_order(m):
        if isinstance(layer, Linear):
            return layer.in_features
        if isinstance(layer, BatchNorm1d):
            return layer.num_features
    return None


def _shape_of(rows) -> tuple:
    return (len(rows), tuple(len(r) if isinstance(r, list) else -1 for r in rows))
