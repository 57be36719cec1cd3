"""``summary(model, input_size)``: the layer table of the torchsummary package, as the lectures show it.

Shapes are propagated, not computed: each layer says how many features it gives for the
features it gets (``output_features``), so no sample goes through the model. The layers are
taken in the order they were defined (containers and a model's own ``Module`` subclass are
walked into, as torchsummary skips ``Sequential``), which is the order they run in when the
model's forward is a chain of its sub-modules, as in the lectures.

The last three size lines are torchsummary's own estimates for the PyTorch float32 model
(4 bytes a number; the input counted as ``input_size``'s product, the activations twice, for
the gradients); a scalargrad model takes far more memory than that.
"""

from __future__ import annotations

import math

from scalargrad.engine import checks

from .module import Module

_RULE = "-" * 64
_DOUBLE_RULE = "=" * 64


def summary(model: Module, input_size, print_table: bool = True) -> tuple[int, int]:
    """Print the table of ``model``'s layers for samples of ``input_size`` (an int, or a tuple
    whose last entry is the number of features, as ``(784,)`` or the lecture's ``(100, 784)``)
    and return ``(total_params, trainable_params)`` as torchsummary does."""
    text, totals = summary_string(model, input_size)
    if print_table:
        print(text, end="")
    return totals


def summary_string(model: Module, input_size) -> tuple[str, tuple[int, int]]:
    """The table ``summary`` prints, and ``(total_params, trainable_params)``."""
    if not isinstance(model, Module):
        raise TypeError(f"summary expects an nn Module, got {type(model).__name__} {model!r}")
    dims = _dims(input_size)
    features = dims[-1]
    rows = []
    for index, layer in enumerate(layers_in_order(model), 1):
        output_features = getattr(layer, "output_features", None)
        if output_features is None:
            raise TypeError(f"summary cannot tell the output size of {type(layer).__name__} (layer {index}); it knows nn's layers")
        features = output_features(features)
        rows.append((f"{type(layer).__name__}-{index}", [-1, features], layer.num_parameters()))
    total = sum(count for _, _, count in rows)
    lines = [_RULE, "{:>20}  {:>25} {:>15}".format("Layer (type)", "Output Shape", "Param #"), _DOUBLE_RULE]
    lines += ["{:>20}  {:>25} {:>15}".format(name, str(shape), f"{count:,}") for name, shape, count in rows]
    input_mb = math.prod(dims) * 4.0 / 1024**2
    activations_mb = 2.0 * sum(features for _, (_, features), _ in rows) * 4.0 / 1024**2
    params_mb = total * 4.0 / 1024**2
    lines += [
        _DOUBLE_RULE,
        f"Total params: {total:,}",
        f"Trainable params: {total:,}",
        "Non-trainable params: 0",
        _RULE,
        f"Input size (MB): {input_mb:0.2f}",
        f"Forward/backward pass size (MB): {activations_mb:0.2f}",
        f"Params size (MB): {params_mb:0.2f}",
        f"Estimated Total Size (MB): {input_mb + activations_mb + params_mb:0.2f}",
        _RULE,
    ]
    return "\n".join(lines) + "\n", (total, total)


def _dims(input_size) -> tuple[int, ...]:
    """``input_size`` as a tuple of whole numbers ≥ 1: TypeError for another type (a float
    included, as everywhere), ValueError for an empty tuple or a size below 1."""
    what = "summary input_size (a positive int, or a tuple of them whose last is the features per sample)"
    dims = input_size if isinstance(input_size, (tuple, list)) else (input_size,)
    if not dims:
        raise ValueError(f"{what} is empty")
    return tuple(checks.whole(d, what, low=1) for d in dims)


def layers_in_order(module: Module):
    """The layers in definition order: modules shown without sub-modules in print(model)."""
    children = module._repr_children()
    if not children:
        yield module
    for _, child in children:
        yield from layers_in_order(child)
