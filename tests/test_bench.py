"""The benchmark's workloads (not its timings: no test here measures speed)."""

import importlib.util
from pathlib import Path

import pytest

from scalargrad import Value

_spec = importlib.util.spec_from_file_location("bench", Path(__file__).resolve().parents[1] / "bench" / "bench.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
micrograd = pytest.importorskip("micrograd.engine", reason="the bench dependency group is not installed")

X, Y = bench.moons(20)


def test_both_engines_build_the_same_step_graph_with_the_same_numbers():
    ours, theirs = bench.GenericMLP(Value, 2, [4, 4, 1]), bench.GenericMLP(micrograd.Value, 2, [4, 4, 1])
    for _ in range(3):
        a = bench.training_step(Value, ours, X, Y)
        b = bench.training_step(micrograd.Value, theirs, X, Y)
        assert a.data == pytest.approx(b.data, rel=1e-12)
        assert bench.count_nodes(a) == bench.count_nodes(b)
    assert [p.data for p in ours.parameters()] == pytest.approx([p.data for p in theirs.parameters()], rel=1e-9)


@pytest.mark.parametrize("scopes", ["with", "push"])
def test_scoped_variants_compute_the_same_and_name_nodes_like_nn(scopes):
    plain, scoped = bench.GenericMLP(Value, 2, [3, 1]), bench.GenericMLP(Value, 2, [3, 1], scopes=scopes)
    out_plain, out_scoped = plain([Value(0.5), Value(-1.0)]), scoped([Value(0.5), Value(-1.0)])
    assert out_plain.data == out_scoped.data
    assert out_scoped.scope == "layers.1.neurons.0" and out_plain.scope == ""
    assert out_scoped.parents[0].parents[0].scope.startswith("layers.")


def test_memory_per_node_is_within_the_target_and_depth_is_unlimited():
    ours, nodes = bench.bytes_per_node(Value, X, Y)
    theirs, _ = bench.bytes_per_node(micrograd.Value, X, Y)
    assert ours <= 200 < theirs, (ours, theirs)
    assert nodes > 1000
    assert bench.max_depth(Value, limit=5000) == 5000
    assert bench.max_depth(micrograd.Value, limit=5000) < 5000  # micrograd's recursive build_topo


def test_interleaved_blocks_runs_each_workload_repeats_times_block_calls():
    calls = {"a": 0, "b": 0}

    def work(name):
        calls[name] += 1

    best = bench.interleaved_blocks({"a": lambda: work("a"), "b": lambda: work("b")}, repeats=3, block=4)
    assert calls == {"a": 12, "b": 12} and set(best) == {"a", "b"} and all(t >= 0 for t in best.values())

