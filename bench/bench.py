"""scalargrad vs micrograd, side by side in one process, reported as ratios.

    uv run python bench/bench.py            # full run (about a minute)
    uv run python bench/bench.py --quick    # fewer repeats

Workloads (Python's garbage collector left on, as users have it):
  step   one full-batch training step of MLP(2, [16, 16, 1]) on 100 two-moons points:
         forward, hinge loss + 1e-4·L2, backward, SGD update (micrograd's demo), timed over
         steps in a row (as in training, each engine pays for collecting its own garbage),
         and one step alone after a gc.collect() (micrograd's garbage then goes uncollected)
  chain  a chain of multiplications, forward + backward
  sum    a wide sum() of Values, forward + backward
  memory bytes allocated per graph node while building the step's graph (tracemalloc), and per
         Value made with Value(x) (the Values that take attributes of the user's own)
  depth  the longest chain backward() handles under the default recursion limit
  scope  the cost of the scope() bookkeeping in the step when nobody draws, and the step
         with scalargrad's own nn.MLP (which opens a scope per module)
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import scalargrad  # noqa: E402
import scalargrad.engine.context  # noqa: E402

try:
    import micrograd.engine as micrograd_engine
except ImportError:  # the bench group is not installed
    micrograd_engine = None


STEP_BLOCK = 4  # training steps timed in a row


def moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list[list[float]], list[int]]:
    """Two interleaving half circles (as sklearn's make_moons), labels -1/+1."""
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        t = math.pi * (i // 2) / (n // 2 - 1)
        if i % 2 == 0:
            point, label = [math.cos(t), math.sin(t)], -1
        else:
            point, label = [1.0 - math.cos(t), 0.5 - math.sin(t)], 1
        X.append([c + rng.gauss(0.0, noise) for c in point])
        y.append(label)
    return X, y


class GenericMLP:
    """micrograd's nn.MLP, written once against any Value class so both engines build the same graph."""

    def __init__(self, Value, nin: int, nouts: list[int], seed: int = 1337, scopes: str | None = None):
        # scopes: None, "with" (a `with scalargrad.scope(name)` block per layer and per neuron,
        # as a user would write it) or "push" (push_scope/pop_scope, the way nn's modules do it)
        self.scopes = scopes
        rng = random.Random(seed)
        sizes = [nin] + nouts
        self.layers = []
        for i in range(len(nouts)):
            neurons = [
                ([Value(rng.uniform(-1, 1)) for _ in range(sizes[i])], Value(0.0), i != len(nouts) - 1)
                for _ in range(sizes[i + 1])
            ]
            self.layers.append(neurons)
        self.names = [(f"layers.{i}", [f"neurons.{j}" for j in range(n)]) for i, n in enumerate(nouts)]

    def parameters(self):
        return [p for layer in self.layers for w, b, _ in layer for p in (*w, b)]

    def __call__(self, x):
        if self.scopes == "with":
            return self.with_scopes(x)
        if self.scopes == "push":
            return self.pushed_scopes(x)
        for layer in self.layers:
            x = [self.neuron(w, b, nonlin, x) for w, b, nonlin in layer]
        return x[0]

    def with_scopes(self, x):
        scope = scalargrad.scope
        for layer, (layer_name, neuron_names) in zip(self.layers, self.names):
            with scope(layer_name):
                out = []
                for (w, b, nonlin), name in zip(layer, neuron_names):
                    with scope(name):
                        out.append(self.neuron(w, b, nonlin, x))
            x = out
        return x[0]

    def pushed_scopes(self, x):
        push, pop = scalargrad.engine.context.push_scope, scalargrad.engine.context.pop_scope
        for layer, (layer_name, neuron_names) in zip(self.layers, self.names):
            outer = push(layer_name)
            out = []
            for (w, b, nonlin), name in zip(layer, neuron_names):
                inner = push(name)
                out.append(self.neuron(w, b, nonlin, x))
                pop(inner)
            pop(outer)
            x = out
        return x[0]

    @staticmethod
    def neuron(w, b, nonlin, x):
        act = sum((wi * xi for wi, xi in zip(w, x)), b)
        return act.relu() if nonlin else act


def training_step(Value, model, X, y, lr: float = 0.05, alpha: float = 1e-4):
    """micrograd demo's step: hinge loss + L2, backward, SGD. Returns the loss graph's root."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.parameters())
    total = data_loss + reg_loss
    for p in model.parameters():
        p.grad = 0.0
    total.backward()
    for p in model.parameters():
        p.data -= lr * p.grad
    return total


def count_nodes(root) -> int:
    seen, stack = {root}, [root]
    while stack:
        for p in stack.pop()._prev:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return len(seen)


def interleaved_blocks(workloads: dict, repeats: int, block: int) -> dict:
    """Seconds per call of each workload: the best of ``repeats`` blocks of ``block`` calls in a row.

    The engines take turns, block by block, so both see the same moments of a shared, noisy
    machine. Each block starts from a collected heap (untimed), so that no engine pays for
    the garbage another left, and runs several calls in a row, so that each pays for its
    own: micrograd's cyclic garbage is collected during its later calls, as in training.
    """
    best = {name: math.inf for name in workloads}
    for _ in range(repeats):
        for name, fn in workloads.items():
            gc.collect()
            t0 = time.process_time()
            for _ in range(block):
                fn()
            best[name] = min(best[name], (time.process_time() - t0) / block)
    return best


def chain(Value, n: int):
    x = Value(1.0)
    y = x
    for _ in range(n):
        y = y * 1.000001
    y.backward()
    return x


def wide_sum(Value, n: int):
    xs = [Value(float(i)) for i in range(n)]
    s = sum(xs)
    s.backward()
    return xs


def bytes_per_node(Value, X, y) -> tuple[float, int]:
    model = GenericMLP(Value, 2, [16, 16, 1])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    total = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    params = len(model.parameters())
    nodes = count_nodes(total) - params
    return (after - before) / nodes, count_nodes(total)


def bytes_per_leaf(Value, n: int = 10_000) -> float:
    """Bytes allocated per Value made with Value(x) (inputs, parameters: the Values that take attributes)."""
    numbers = [float(i) + 0.5 for i in range(n)]
    leaves = [None] * n
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i, x in enumerate(numbers):
        leaves[i] = Value(x)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / n


def max_depth(Value, limit: int = 10**6) -> int:
    """The longest chain whose backward() succeeds, by doubling then bisection (capped at ``limit``)."""

    def ok(n):
        try:
            chain(Value, n)
            return True
        except RecursionError:
            return False

    lo, hi = 1, 2
    while hi < limit and ok(hi):
        lo, hi = hi, hi * 2
    if hi >= limit:
        if ok(limit):
            return limit
        hi = limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    X, y = moons()
    engines = {"scalargrad": scalargrad.Value}
    if micrograd_engine is not None:
        engines["micrograd"] = micrograd_engine.Value
    else:
        print("micrograd is not installed (uv run --group bench ...): showing scalargrad alone\n")

    print(f"Python {sys.version.split()[0]}, gc thresholds {gc.get_threshold()}, "
          f"best of {repeats} interleaved blocks (a block: {STEP_BLOCK} steps, or 50 chains/sums, in a row)\n")
    results: dict[str, dict[str, float]] = {name: {} for name in engines}
    models = {name: GenericMLP(Value, 2, [16, 16, 1]) for name, Value in engines.items()}
    for name, Value in engines.items():
        training_step(Value, models[name], X, y)  # warm up
    timed = {
        "step": (lambda Value, name: training_step(Value, models[name], X, y), STEP_BLOCK),
        "step1": (lambda Value, name: training_step(Value, models[name], X, y), 1),
        "chain": (lambda Value, name: chain(Value, 400), 50),
        "sum": (lambda Value, name: wide_sum(Value, 400), 50),
    }
    for key, (work, block) in timed.items():
        best = interleaved_blocks({name: (lambda V=V, name=name: work(V, name)) for name, V in engines.items()}, repeats, block)
        for name in engines:
            results[name][key] = best[name]
    for name, Value in engines.items():
        results[name]["bytes"], results[name]["nodes"] = bytes_per_node(Value, X, y)
        results[name]["leaf"] = bytes_per_leaf(Value)
        results[name]["depth"] = max_depth(Value)

    def row(label, key, fmt, better="lower"):
        cells = [fmt(results[n][key]) for n in engines]
        ratio = ""
        if "micrograd" in results:
            a, b = results["scalargrad"][key], results["micrograd"][key]
            ratio = f"{b / a:6.1f}x" if better == "lower" else f"{a / b:6.1f}x"
        print(f"{label:<44}" + "".join(f"{c:>16}" for c in cells) + f"{ratio:>10}")

    print(f"{'':<44}" + "".join(f"{n:>16}" for n in engines) + f"{'speed-up' if len(engines) > 1 else '':>10}")
    row("MLP(2,[16,16,1]) training step, 100 points", "step", lambda t: f"{t * 1e3:.1f} ms")
    row("  the same, one step alone from a clean heap", "step1", lambda t: f"{t * 1e3:.1f} ms")
    row("chain of 400 multiplications, fwd+bwd", "chain", lambda t: f"{t * 1e6:.0f} us")
    row("sum() of 400 Values, fwd+bwd", "sum", lambda t: f"{t * 1e6:.0f} us")
    row("bytes per graph node (step's graph)", "bytes", lambda b: f"{b:.0f} B")
    row("bytes per Value(x) made by the user", "leaf", lambda b: f"{b:.0f} B")
    row("nodes in the step's graph", "nodes", lambda n: f"{n:,.0f}", better="higher")
    row("deepest chain backward() handles", "depth", lambda d: f"{d:,}" if d < 10**6 else ">= 1,000,000", better="higher")

    import nn  # scalargrad's own nn: its modules open a scope per layer and per neuron

    Value = scalargrad.Value
    variants = {
        "none": GenericMLP(Value, 2, [16, 16, 1]),
        "with": GenericMLP(Value, 2, [16, 16, 1], scopes="with"),
        "push": GenericMLP(Value, 2, [16, 16, 1], scopes="push"),
        "nn": nn.MLP(2, [16, 16, 1], seed=1337),
    }
    best = interleaved_blocks({k: (lambda m=m: training_step(Value, m, X, y)) for k, m in variants.items()}, repeats, STEP_BLOCK)
    none = best["none"]
    print("\nscope bookkeeping in the step when nobody draws (a scope per layer and per neuron):")
    print(f"  no scopes                               {none * 1e3:7.1f} ms")
    print(f"  `with scalargrad.scope(name)` blocks     {best['with'] * 1e3:7.1f} ms ({(best['with'] / none - 1) * 100:+.1f}%)")
    print(f"  push_scope/pop_scope, as nn does         {best['push'] * 1e3:7.1f} ms ({(best['push'] / none - 1) * 100:+.1f}%)")
    print(f"  scalargrad's own nn.MLP(2, [16, 16, 1])  {best['nn'] * 1e3:7.1f} ms ({(best['nn'] / none - 1) * 100:+.1f}%)")
    # The differences above are within the machine's noise; the bookkeeping itself, timed alone:
    push, pop = scalargrad.engine.context.push_scope, scalargrad.engine.context.pop_scope
    n = 200_000
    t0 = time.process_time()
    for _ in range(n):
        pop(push("neurons.3"))
    pair = (time.process_time() - t0) / n
    per_step = len(X) * sum(1 + len(names) for _, names in variants["push"].names)
    print(f"  one push_scope/pop_scope pair: {pair * 1e6:.2f} us; {per_step:,} pairs per step = "
          f"{pair * per_step * 1e3:.1f} ms, {pair * per_step / none * 100:.1f}% of the step")
    t0 = time.process_time()
    chain(scalargrad.Value, 10**6)
    print(f"scalargrad chain of 1,000,000 multiplications, fwd+bwd: {time.process_time() - t0:.2f} s")


if __name__ == "__main__":
    main()
