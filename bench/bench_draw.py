"""How long drawing takes: DOT → SVG time for graph shapes that stress Graphviz's layout.

    uv run python bench/bench_draw.py                  # every case, the backend draw() would use
    uv run python bench/bench_draw.py --backend wasm   # or dot; --sizes 100 250; --timeout 120

Shapes, each at about 100, 250 and 500 value nodes — the count ``max_nodes`` limits:
  chain    a product of distinct leaves, a·b·c·…  (no fan-out: the easy case)
  fan-out  x·x·…·x: one leaf feeds every gate of a long chain
  horner   a polynomial by Horner's rule, (…((c·x + c₁)·x + c₂)·x …): x feeds every other gate
  mlp      the mean squared error of nn.MLP(2, [3, 3, 1]) over a batch of points

Each case runs in its own process (a layout that runs away is stopped at ``--timeout``
seconds and shown as "> N s"); the times are of the SVG render of a warm backend (the
WebAssembly Graphviz's one-off compile is done before timing): wall-clock, and CPU (of the
process and the ``dot`` it runs), which a busy machine changes less. The render has
draw()'s default time limit, so a case past it fails with the RenderError.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = ("chain", "fan-out", "horner", "mlp")
SIZES = (100, 250, 500)


def chain(k: int):
    from scalargrad import Value

    y = Value(1.0, "a0")
    for i in range(1, k):
        y = y * Value(1.0 + i / 1000)
    return y


def fan_out(k: int):
    from scalargrad import Value

    x = Value(1.001, "x")
    y = x
    for _ in range(k - 1):
        y = y * x
    return y


def horner(k: int):
    from scalargrad import Value

    x, y = Value(0.5, "x"), Value(1.0, "c")
    for i in range(k):
        y = y * x + 0.1 * (i + 1)
    return y


def mlp(k: int):
    from nn import MLP
    from nn.losses import mse
    from scalargrad import Value

    model = MLP(2, [3, 3, 1], seed=0)
    points = [(i / max(k, 1), 1.0 - i / max(k, 1)) for i in range(k)]
    return mse([model([Value(a), Value(b)]) for a, b in points], [a - b for a, b in points])


BUILDERS = {"chain": chain, "fan-out": fan_out, "horner": horner, "mlp": mlp}


def node_count(root) -> int:
    from scalargrad import topological_order

    return len(topological_order(root))


def graph_of_size(shape: str, nodes: int):
    """The graph of ``shape`` whose value-node count is closest to ``nodes`` (a search over the builder's size)."""
    build = BUILDERS[shape]
    low, high = 1, nodes
    while low < high:  # node counts grow with k: the largest k that fits, then k or k + 1
        k = (low + high + 1) // 2
        if node_count(build(k)) <= nodes:
            low = k
        else:
            high = k - 1
    root = min((build(low), build(low + 1)), key=lambda r: abs(node_count(r) - nodes))
    root.backward()
    return root


def time_one(shape: str, nodes: int, backend: str) -> None:
    """Child process: build, warm the backend, print the node count, time one SVG render, print the seconds."""
    from scalargrad import draw
    from scalargrad.pictures import render

    root = graph_of_size(shape, nodes)
    picture = draw(root, max_nodes=None, backend=backend)
    render.render_svg("digraph { a -> b }", backend)  # compile the WebAssembly module first
    print(node_count(root), flush=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    picture.svg()
    print(time.perf_counter() - start, cpu_seconds() - cpu)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the ``dot`` program)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_case(shape: str, nodes: int, backend: str, timeout: float) -> str:
    command = [sys.executable, __file__, "--one", shape, str(nodes), "--backend", backend]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as stopped:
        count = (stopped.stdout or b"").decode().strip() or f"~{nodes}"
        return f"| {shape} | {count} | > {timeout:g} s | |"
    if done.returncode != 0:
        return f"| {shape} | ~{nodes} | failed: {done.stderr.strip().splitlines()[-1]} | |"
    count, seconds, cpu = done.stdout.split()
    return f"| {shape} | {count} | {float(seconds):.2f} s | {float(cpu):.2f} s |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="auto", choices=("auto", "dot", "wasm"))
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=SHAPES)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per case (default 120)")
    parser.add_argument("--one", nargs=2, metavar=("SHAPE", "NODES"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        time_one(args.one[0], int(args.one[1]), args.backend)
        return
    from scalargrad.pictures.render import choose_backend

    print(f"backend: {choose_backend(args.backend)}\n")
    print("| graph | value nodes | SVG time | CPU time |")
    print("|---|---:|---:|---:|")
    for shape in args.shapes:
        for nodes in args.sizes:
            print(run_case(shape, nodes, args.backend, args.timeout), flush=True)


if __name__ == "__main__":
    main()
