"""``BatchNorm1d``: batch normalisation of each feature, as ``torch.nn.BatchNorm1d``.

For a batch of N samples and each feature j (in training, or always without running statistics)::

    μⱼ = (1/N) Σᵢ xᵢⱼ            σ²ⱼ = (1/N) Σᵢ (xᵢⱼ − μⱼ)²   (the biased variance)
    yᵢⱼ = γⱼ (xᵢⱼ − μⱼ) / √(σ²ⱼ + eps) + βⱼ

and, in training with ``track_running_stats``, the running statistics move towards the batch's
(with the unbiased variance, as PyTorch)::

    running_meanⱼ ← (1 − m) running_meanⱼ + m μⱼ
    running_varⱼ  ← (1 − m) running_varⱼ  + m σ²ⱼ N/(N − 1)

where m = ``momentum``, or 1/``num_batches_tracked`` (a plain average) when momentum is None.
In ``eval()`` mode, yᵢⱼ = γⱼ (xᵢⱼ − running_meanⱼ) / √(running_varⱼ + eps) + βⱼ.
"""

from __future__ import annotations

from scalargrad import Value
from scalargrad.engine.checks import flag, number, whole

from .module import Module
from .shapes import is_batch, rows_of


class BatchNorm1d(Module):
    """Normalises each of ``num_features`` features over the batch; γ (``weight``, from 1) and
    β (``bias``, from 0) are learned when ``affine`` (β left out with ``bias=False``, as in
    PyTorch 2.13, whose repr shows ``bias=``; older PyTorch, as in the lecture slides, has no
    ``bias`` argument and does not print it).

    ``running_mean``, ``running_var`` and ``num_batches_tracked`` are buffers: numbers that are
    not parameters (the optimizer never sees them) but belong to the model's state, so
    ``state_dict``, ``save`` and ``load`` carry them, as PyTorch's state_dict does.
    A training batch of one sample is refused, as PyTorch refuses it (its variance is 0).
    A flat list is one sample: accepted in ``eval()`` mode (normalised with the running statistics).
    """

    _buffers = {"running_mean": "real", "running_var": "nonnegative", "num_batches_tracked": "count"}

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        self.num_features = whole(num_features, "BatchNorm1d num_features", low=1)
        self.eps = number(eps, "BatchNorm1d eps", low=0.0, low_open=True)
        self.momentum = None if momentum is None else number(momentum, "BatchNorm1d momentum", low=0.0, high=1.0)
        self.affine = flag(affine, "BatchNorm1d affine")
        self.track_running_stats = flag(track_running_stats, "BatchNorm1d track_running_stats")
        flag(bias, "BatchNorm1d bias")
        self.weight = [Value(1.0) for _ in range(self.num_features)] if affine else []
        self.bias = [Value(0.0) for _ in range(self.num_features)] if affine and bias else []
        tracked = track_running_stats
        self.running_mean = [0.0] * self.num_features if tracked else None
        self.running_var = [1.0] * self.num_features if tracked else None
        self.num_batches_tracked = 0 if tracked else None

    def forward(self, x):
        batch = is_batch(x)
        rows = rows_of(x, self.num_features, "BatchNorm1d") if batch else [_sample(x, self.num_features)]
        rows = [[xi if isinstance(xi, Value) else Value(xi) for xi in row] for row in rows]
        if self.training and len(rows) < 2:
            raise ValueError(
                f"BatchNorm1d: Expected more than 1 value per channel when training, got input size [{len(rows)}, {self.num_features}]"
                " (a batch of one sample has no spread; use a batch of 2 or more, or eval() mode)"
            )
        if self.training or not self.track_running_stats:
            out_columns = self._normalise_with_batch_statistics(rows)
        else:
            out_columns = [
                [(xi - mean) * (1.0 / (var + self.eps) ** 0.5) for xi in column]
                for column, mean, var in zip(zip(*rows), self.running_mean, self.running_var)
            ]
        out_rows = [list(row) for row in zip(*self._scaled_and_shifted(out_columns))]
        return out_rows if batch else out_rows[0]

    def normalise_with(self, sample, means, variances) -> list:
        """One sample through the layer in training, the batch's statistics given: γⱼ (xⱼ − μⱼ)·(σ²ⱼ + eps)^(-1/2) + βⱼ,
        the same operations as a training batch's rows. Compiled training (nn.compiled) traces it
        with placeholders for μ and σ², which it computes over each batch."""
        columns = [[xi - mean] for xi, mean in zip(sample, means)]
        out_columns = [[c * (variance + self.eps) ** -0.5 for c in column] for column, variance in zip(columns, variances)]
        return [column[0] for column in self._scaled_and_shifted(out_columns)]

    def _scaled_and_shifted(self, out_columns):
        if self.affine:
            out_columns = [[y * g for y in column] for column, g in zip(out_columns, self.weight)]
        if self.bias:
            out_columns = [[y + b for y in column] for column, b in zip(out_columns, self.bias)]
        return out_columns

    def _normalise_with_batch_statistics(self, rows) -> list[list[Value]]:
        n = len(rows)
        out_columns, means, variances = [], [], []
        for column in zip(*rows):
            mean = sum(column) * (1.0 / n)
            centred = [xi - mean for xi in column]
            variance = sum(c * c for c in centred) * (1.0 / n)
            inv_std = (variance + self.eps) ** -0.5
            out_columns.append([c * inv_std for c in centred])
            means.append(_data(mean))
            variances.append(_data(variance))
        if self.training and self.track_running_stats:
            self._update_running_statistics(means, variances, n)
        return out_columns

    def _update_running_statistics(self, means, variances, n: int) -> None:
        count = self.num_batches_tracked + 1
        m = 1.0 / count if self.momentum is None else self.momentum
        unbiased = n / (n - 1)
        # New lists assigned at the end: nothing changes unless every number was computed.
        new_mean = [(1.0 - m) * r + m * mu for r, mu in zip(self.running_mean, means)]
        new_var = [(1.0 - m) * r + m * v * unbiased for r, v in zip(self.running_var, variances)]
        self.running_mean, self.running_var, self.num_batches_tracked = new_mean, new_var, count

    def output_features(self, in_features: int) -> int:
        if in_features != self.num_features:
            raise ValueError(f"BatchNorm1d expects {self.num_features} features per sample, got {in_features}")
        return in_features

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={bool(self.bias)}, track_running_stats={self.track_running_stats}"
        )


def _sample(x, features: int):
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"BatchNorm1d expects a sample (a list of {features} numbers or Values) or a batch of them, got {type(x).__name__}")
    if len(x) != features:
        raise ValueError(f"BatchNorm1d expects {features} features per sample, got {len(x)}")
    return x


def _data(x) -> float:
    return x.data if isinstance(x, Value) else float(x)
