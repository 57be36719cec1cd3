"""Compiled programs (scalargrad.compile) against the eager engine, micrograd, PyTorch and JAX.

    uv run python bench/bench_compile.py                  # full run (about two minutes with PyTorch)
    uv run --group peers python bench/bench_compile.py    # with JAX's jit too
    uv run python bench/bench_compile.py --quick          # fewer repeats, the lab over 500 epochs

Each step runs compiled (the grouped program through nn.TrainingStep, as fit(compile=True) steps;
the same in the three calls zero_grad, program.backward and optimizer.step; the per-node
program), on the eager engine, and where installed on micrograd, PyTorch (float64, one thread;
`uv pip install torch`) and JAX jit (float64, CPU, one thread), from the same weights; the
losses of 3 steps are compared with eager's. All timed with CPU time (time.process_time: the
machine may be shared), the fast ones interleaved (each round times every one of them in turn).
  lab    lecture 003's training step: Sequential(Linear(1,10), ReLU(), Linear(10,6), ReLU(),
         Linear(6,1)), L1 loss over 1,000 points of y = 8x² + 7x + 3 + noise, one SGD step
         (lr 0.001); then the whole lab (5,000 epochs) through nn.fit(compile=True), grouped
         and per node, and PyTorch's loop
  moons  micrograd's demo step (MLP(2, [16, 16, 1]), 100 points, hinge loss + 1e-4·L2, SGD)
  big    compiling MLP(2, [128, 128, 128, 1]) (tanh, 100,227 nodes; --quick: MLP(2, [64, 64, 1])),
         its first 1,000-sample backward (which generates the batch code) and a later one, and how
         much each raises the process's peak memory (in a process of its own: VmHWM)
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import bench  # noqa: E402 - the moons data, micrograd's MLP and step, shared with bench.py
import nn  # noqa: E402
import scalargrad  # noqa: E402
from scalargrad import Value  # noqa: E402

torch = None  # imported by main() if installed (optional; importing it takes seconds)


def best_time(work, repeats: int, block: int = 1) -> float:
    """The least CPU time per call of ``work`` over ``repeats`` blocks of ``block`` calls."""
    return best_times({"work": work}, repeats, {"work": block})["work"]


def best_times(works: dict, repeats: int, blocks: dict) -> dict:
    """The least CPU time per call of each of ``works`` over ``repeats`` rounds; each round times
    a block of ``blocks[name]`` calls of every one in turn, so that a busy moment of a shared
    machine slows all of them, not one (the ratios between them are what the tables report).
    A fifth of a block runs untimed first: each is timed warm, as in a training loop, not
    just after the others have filled the caches with their own code and data."""
    best = dict.fromkeys(works, float("inf"))
    for _ in range(repeats):
        for name, work in works.items():
            block = blocks[name]
            for _ in range(block // 5):
                work()
            t0 = time.process_time()
            for _ in range(block):
                work()
            best[name] = min(best[name], (time.process_time() - t0) / block)
    return best


# ------------------------------------------------------------ lecture 003


def lab_data(n: int = 1000, seed: int = 0) -> tuple[list[float], list[float]]:
    """The lecture's data: x uniform in [-15, 15], y = 8x² + 7x + 3 plus N(0, 1) noise."""
    rng = random.Random(seed)
    xs = [rng.uniform(-15.0, 15.0) for _ in range(n)]
    return xs, [8 * x * x + 7 * x + 3 + rng.gauss(0.0, 1.0) for x in xs]


def lab_model(seed: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 10, seed=seed), nn.ReLU(), nn.Linear(10, 6, seed=seed + 1), nn.ReLU(),
                         nn.Linear(6, 1, seed=seed + 2))


def compiled_lab_step(model, xs, ys, fused: bool = True):
    """(step, program): one SGD step of the mean L1 loss through the compiled per-sample loss, as
    fit(compile=True) takes it (nn.TrainingStep), or (``fused`` False) in the three calls
    zero_grad, program.backward and optimizer.step (the same numbers)."""
    x, y = Value(0.0, "x"), Value(0.0, "y")
    program = scalargrad.compile(nn.l1(model([x]), [y]), [x, y])
    optimizer = nn.SGD(model.parameters(), lr=0.001)
    return _compiled_step(program, optimizer, [np.array(xs), np.array(ys)], fused), program


def _compiled_step(program, optimizer, columns, fused: bool):
    """A step over the whole batch ``columns``: TrainingStep, or the three calls; it returns the mean loss."""
    seed = 1.0 / len(columns[0])
    if fused:
        training_step = nn.TrainingStep(program, optimizer)
        return lambda: training_step(*columns, seed=seed).mean()

    def step():
        optimizer.zero_grad()
        losses = program.backward(*columns, seed=seed)
        optimizer.step()
        return losses.mean()

    return step


def eager_lab_step(model, xs, ys):
    optimizer = nn.SGD(model.parameters(), lr=0.001)

    def step():
        loss = sum(nn.l1(model([x]), [y]) for x, y in zip(xs, ys)) * (1.0 / len(xs))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data

    return step


def lab_weights(model) -> list:
    """(weight rows, biases) of each Linear of ``lab_model``'s, as numbers: the peers start from them."""
    return [([[w.data for w in row] for row in m.weight], [b.data for b in m.bias]) for m in (model[0], model[2], model[4])]


def moons_weights(start) -> list:
    """(weight rows, biases) of each layer of a ``bench.GenericMLP``, as numbers."""
    return [([[w.data for w in ws] for ws, _, _ in neurons], [b.data for _, b, _ in neurons]) for neurons in start.layers]


def _torch_mlp(layers, weights):
    """``layers`` (Linear and ReLU modules) as a float64 Sequential whose Linears hold ``weights``."""
    net = torch.nn.Sequential(*layers).double()
    with torch.no_grad():
        for layer, (rows, biases) in zip(layers[::2], weights):
            layer.weight.copy_(torch.tensor(rows, dtype=torch.float64))
            layer.bias.copy_(torch.tensor(biases, dtype=torch.float64))
    return net


def torch_lab_step(model, xs, ys):
    """The lecture's own PyTorch code (float64, one thread), starting from ``model``'s weights."""
    torch.set_num_threads(1)
    layers = [torch.nn.Linear(1, 10), torch.nn.ReLU(), torch.nn.Linear(10, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1)]
    net = _torch_mlp(layers, lab_weights(model))
    x = torch.tensor(xs, dtype=torch.float64).reshape(-1, 1)
    y = torch.tensor(ys, dtype=torch.float64).reshape(-1, 1)
    loss_func, optimizer = torch.nn.L1Loss(), torch.optim.SGD(net.parameters(), lr=0.001)

    def step():
        optimizer.zero_grad()
        loss = loss_func(net(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


# ------------------------------------------------------------ micrograd's demo


def compiled_moons_step(model, X, y, lr: float = 0.05, alpha: float = 1e-4, fused: bool = True):
    """bench.training_step through a compiled per-sample hinge loss; the L2 term as SGD's weight
    decay (its gradient 2α·p, PyTorch's way of writing it), the reported loss with α·Σp² (of the
    weights before the step, as the other steps report it)."""
    x0, x1, t = Value(0.0, "x0"), Value(0.0, "x1"), Value(1.0, "y")
    program = scalargrad.compile((1 + -t * model([x0, x1])).relu(), [x0, x1, t])
    columns = [np.array([row[0] for row in X]), np.array([row[1] for row in X]), np.array(y, dtype=float)]
    params = model.parameters()
    optimizer = nn.SGD(params, lr=lr, weight_decay=2 * alpha)
    step = _compiled_step(program, optimizer, columns, fused)

    def moons_step():
        l2 = math.fsum(p.data * p.data for p in params)  # before the step changes them
        return step() + alpha * l2

    return moons_step, program


def torch_moons_step(X, y, lr: float = 0.05, alpha: float = 1e-4):
    """micrograd's demo step in PyTorch (float64, one thread), from the same starting weights."""
    torch.set_num_threads(1)
    layers = [torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1)]
    net = _torch_mlp(layers, moons_weights(bench.GenericMLP(Value, 2, [16, 16, 1])))
    inputs = torch.tensor(X, dtype=torch.float64)
    labels = torch.tensor(y, dtype=torch.float64).reshape(-1, 1)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)

    def step():
        optimizer.zero_grad()
        total = torch.relu(1 - labels * net(inputs)).mean() + alpha * sum((p * p).sum() for p in net.parameters())
        total.backward()
        optimizer.step()
        return total.item()

    return step


def jax_steps(xs, ys, X, y):
    """The lab step and the moons step as jax.jit functions (float64, CPU), from the same weights."""
    import jax
    import jax.numpy as jnp

    def mlp(params, x):
        for k, (w, b) in enumerate(params):
            x = x @ w.T + b
            if k < len(params) - 1:
                x = jax.nn.relu(x)
        return x

    def lab_loss(params, x, t):
        return jnp.abs(mlp(params, x) - t).mean()

    def moons_loss(params, x, t, alpha=1e-4):
        data = jax.nn.relu(1 - t * mlp(params, x)).mean()
        return data + alpha * sum((w * w).sum() + (b * b).sum() for w, b in params)

    def sgd(loss, lr):
        @jax.jit
        def step(params, x, t):
            value, grads = jax.value_and_grad(loss)(params, x, t)
            return [(w - lr * gw, b - lr * gb) for (w, b), (gw, gb) in zip(params, grads)], value
        return step

    as_jax = lambda weights: [(jnp.array(rows), jnp.array(biases)) for rows, biases in weights]  # noqa: E731
    lab_params = as_jax(lab_weights(lab_model()))
    moons_params = as_jax(moons_weights(bench.GenericMLP(Value, 2, [16, 16, 1])))

    def runner(step, params, x, t):
        state = {"params": params}

        def run():
            state["params"], value = step(state["params"], x, t)
            return float(value.block_until_ready())

        return run

    lab = runner(sgd(lab_loss, 0.001), lab_params, jnp.array(xs).reshape(-1, 1), jnp.array(ys).reshape(-1, 1))
    moons = runner(sgd(moons_loss, 0.05), moons_params, jnp.array(X), jnp.array(y, dtype=jnp.float64).reshape(-1, 1))
    return lab, moons


def _peak_megabytes() -> float:
    """This process's peak resident memory, in MB. Linux's VmHWM, which starts afresh with the
    program; ru_maxrss (elsewhere) keeps a high-water mark inherited across fork and exec, so a
    child of a process that loaded PyTorch starts above what it will ever use."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_graph(sizes: list[int]) -> None:
    """Compile time, first and later backward time, and how much each raised the peak memory,
    for one big MLP. Run in a fresh process (``--big``), so that the peak is this work's."""
    model = nn.MLP(2, sizes, seed=0)
    xs = [Value(0.1, "x0"), Value(0.2, "x1")]
    out = model(xs)
    nodes = len(scalargrad.topological_order(out))
    batch = np.random.default_rng(0).normal(size=(2, 1000))
    peak = _peak_megabytes
    before = peak()
    t0 = time.process_time()
    program = scalargrad.compile(out, xs)
    t1, after_compile = time.process_time(), peak()
    program.backward(*batch)
    t2, after_first = time.process_time(), peak()
    later = best_time(lambda: program.backward(*batch), 3)
    print(f"\ncompiling MLP(2, {sizes}) ({nodes:,} nodes), 1,000 samples:")
    print(f"  compile {t1 - t0:.2f} s (+{after_compile - before:.0f} MB peak); first backward {t2 - t1:.2f} s "
          f"(+{after_first - after_compile:.0f} MB more: the batch code is generated then); later backward {later:.3f} s")


def _import_peers():
    """PyTorch and JAX, each on one thread in float64, where installed (both optional)."""
    global torch
    try:
        import torch
    except ImportError:
        pass
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        return jax
    except ImportError:
        return None


def _per_node(step_and_program):
    """The same compiled step with the per-node program (grouping off)."""
    step, program = step_and_program
    program.grouping = False
    return step


def _table(title: str, times: dict, losses: dict) -> None:
    print(f"\n{title}")
    reference = times.get("pytorch")
    for name, t in times.items():
        gap = max(abs(a - b) / abs(b) for a, b in zip(losses[name], losses["eager"]))
        print(f"  {name:<10} {t * 1e3:9.3f} ms   {times['eager'] / t:7.1f}x eager"
              + (f"   {t / reference:5.2f}x PyTorch's time" if reference else "")
              + f"   (loss gap to eager {gap:.0e})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; the lab over 500 epochs")
    parser.add_argument("--big", metavar="SIZES", help="only the big graph, e.g. 128,128,128,1 (in this process)")
    args = parser.parse_args(argv)
    if args.big:
        big_graph([int(k) for k in args.big.split(",")])
        return
    repeats = 3 if args.quick else 7
    jax = _import_peers()
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"PyTorch {torch.__version__ if torch else 'not installed'}, JAX {jax.__version__ if jax else 'not installed'}; "
          f"best of {repeats}, CPU time\n")

    xs, ys = lab_data()
    X, y = bench.moons()
    grouped_step, program = compiled_lab_step(lab_model(), xs, ys)
    lab = {"grouped": grouped_step, "3 calls": compiled_lab_step(lab_model(), xs, ys, fused=False)[0],
           "per-node": _per_node(compiled_lab_step(lab_model(), xs, ys)), "eager": eager_lab_step(lab_model(), xs, ys)}
    mlp = lambda: bench.GenericMLP(Value, 2, [16, 16, 1])  # noqa: E731 - the same starting weights every time
    moons_step, moons_program = compiled_moons_step(mlp(), X, y)
    eager_model = mlp()
    moons = {"grouped": moons_step, "3 calls": compiled_moons_step(mlp(), X, y, fused=False)[0],
             "per-node": _per_node(compiled_moons_step(mlp(), X, y)),
             "eager": lambda: bench.training_step(Value, eager_model, X, y).data}
    if bench.micrograd_engine is not None:
        theirs = bench.GenericMLP(bench.micrograd_engine.Value, 2, [16, 16, 1])
        moons["micrograd"] = lambda: bench.training_step(bench.micrograd_engine.Value, theirs, X, y).data
    if torch is not None:
        lab["pytorch"] = torch_lab_step(lab_model(), xs, ys)
        moons["pytorch"] = torch_moons_step(X, y)
    if jax is not None:
        lab["jax jit"], moons["jax jit"] = jax_steps(xs, ys, X, y)
    for title, steps, block in [
        (f"lecture 003 step ({len(program._nodes)} nodes per sample, 1,000 samples):", lab, 50),
        (f"micrograd's demo step (MLP(2, [16, 16, 1]), {len(moons_program._nodes)} nodes per sample, 100 moons, "
         "hinge + L2, SGD):", moons, 100),
    ]:
        losses = {name: [step() for _ in range(3)] for name, step in steps.items()}  # same weights: same losses
        gc.collect()
        slow = ("eager", "micrograd")
        fast = {name: step for name, step in steps.items() if name not in slow}
        times = best_times(fast, 3 * repeats, dict.fromkeys(fast, block))  # interleaved: their ratios are fair
        times.update(best_times({name: steps[name] for name in steps if name in slow}, 2, dict.fromkeys(slow, 2)))
        _table(title, {name: times[name] for name in steps}, losses)

    epochs = 500 if args.quick else 5000
    print(f"\nthe whole lab, {epochs:,} epochs through nn.fit(compile=True):")
    for grouping in ("auto", False):
        scalargrad.Program.grouping = grouping
        model = lab_model()
        gc.collect()  # the eager steps' graphs, freed before any timing starts
        t0 = time.process_time()
        history = nn.fit(model, [[x] for x in xs], ys, "l1", nn.SGD(model.parameters(), lr=0.001), epochs=epochs,
                         progress=False, compile=True)
        print(f"  {'grouped' if grouping else 'per-node':<10} {time.process_time() - t0:6.2f} s "
              f"(loss {history['loss'][0]:.1f} -> {history['loss'][-1]:.2f})")
    scalargrad.Program.grouping = "auto"
    if torch is not None:
        step = torch_lab_step(lab_model(), xs, ys)
        gc.collect()
        t0 = time.process_time()
        for _ in range(epochs):
            last = step()
        print(f"  {'pytorch':<10} {time.process_time() - t0:6.2f} s (loss -> {last:.2f})")

    sizes = "64,64,1" if args.quick else "128,128,128,1"
    subprocess.run([sys.executable, __file__, "--big", sizes], check=True)  # a fresh process: its own peak


if __name__ == "__main__":
    main()
