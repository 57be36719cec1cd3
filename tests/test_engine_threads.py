"""Two threads on one graph: each pass computes into its own storage, so passes never mix.

Python switches threads every few microseconds here (``sys.setswitchinterval``), so the
passes really do interleave; on main before this design they gave wrong gradients.
"""

import sys
import threading

import pytest

from scalargrad import Value, grad


@pytest.fixture(autouse=True)
def switch_threads_often():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _graph(n: int = 300):
    """A graph where every leaf feeds many gates (as a network's weights do), with its exact gradients."""
    xs = [Value(0.01 * (i + 1), f"x{i}") for i in range(5)]
    out = Value(0.0)
    for i in range(n):
        a, b = xs[i % 5], xs[(3 * i + 1) % 5]
        out = out + (a * b).tanh() * 0.5
    return xs, out


def _in_threads(*jobs):
    start = threading.Barrier(len(jobs))
    errors = []

    def run(job):
        try:
            start.wait()
            job()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_two_threads_backpropagating_one_graph_leave_what_running_in_turn_leaves():
    xs, out = _graph()
    out.backward()
    once = [x.grad for x in xs]
    interior = out.grad
    for x in xs:
        x.grad = 0.0
    passes = 20

    def backprop():
        for _ in range(passes):
            out.backward()

    _in_threads(backprop, backprop)
    # In turn, 2 × 20 passes add the same gradient 40 times: the same sums in any order of whole passes.
    expected = []
    for g in once:
        total = 0.0
        for _ in range(2 * passes):
            total += g
        expected.append(total)
    assert [x.grad for x in xs] == expected
    assert out.grad == interior == 1.0


def test_grad_in_one_thread_never_disturbs_backward_in_another():
    xs, out = _graph()
    exact = [g.data for g in grad(out, xs)]
    for x in xs:
        x.grad = 0.0
    seen = []

    def gradients():
        for _ in range(20):
            seen.append([g.data for g in grad(out, xs)])

    def backprop():
        for _ in range(20):
            out.backward()

    _in_threads(gradients, backprop)
    assert all(s == exact for s in seen)
    for x, g in zip(xs, exact):
        total = 0.0
        for _ in range(20):
            total += g
        assert x.grad == total


def test_grad_never_writes_grad_not_even_for_a_moment():
    xs, out = _graph(1000)  # 4,000 nodes: each pass still spans thousands of thread switches
    for x in xs:
        x.grad = 123.0
    changed = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            if any(x.grad != 123.0 for x in xs):
                changed.append([x.grad for x in xs])

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(5):
            grad(out, xs)
            grad(out, xs, create_graph=True)
    finally:
        done.set()
        watcher.join()
    assert changed == []
