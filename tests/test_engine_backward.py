"""backward() and grad(): depth, node reuse, repeated passes, determinism, no_grad,
detach, higher-order gradients, and drop-in use of code written for micrograd."""

import asyncio
import gc
import inspect
import math
import os
import random
import subprocess
import sys
import threading

import pytest

from scalargrad import NonFiniteError, Constant, Value, enable_grad, grad, no_grad, scope, topological_order

# ------------------------------------------------------------------ depth


def test_a_chain_ten_times_the_recursion_limit_backpropagates_and_frees():
    assert sys.getrecursionlimit() <= 10_000  # a recursive walk would fail long before 10⁵
    x, c = Value(0.5, "x"), Value(0.25, "c")
    y = x
    for _ in range(100_000):
        y = y + c
    assert y.data == 0.5 + 25_000.0
    y.backward()
    assert x.grad == 1.0
    assert c.grad == 100_000.0
    del y  # freeing the chain must not recurse a million deep either
    gc.collect()
    assert x.grad == 1.0


def test_topological_order_puts_parents_first_and_the_root_last():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    c = a * b
    d = c + a
    e = d.exp() * c
    order = topological_order(e)
    assert order[-1] is e
    assert len(order) == len(set(order)) == 6  # a, b, c, d, exp(d), e
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[parent] < position[node]


# ------------------------------------------------------------------ node reuse


def test_a_plus_a():
    a = Value(3.0)
    (a + a).backward()
    assert a.grad == 2.0


def test_a_times_a():
    a = Value(-3.0)
    (a * a).backward()
    assert a.grad == -6.0  # d/da a² = 2a


def test_shared_interior_node_collects_gradient_from_every_use():
    a = Value(2.0, "a")
    b = a * 3  # b = 6, used three times below
    c = b * b + b  # c = b² + b, ∂c/∂b = 2b + 1 = 13
    c.backward()
    assert b.grad == 13.0
    assert a.grad == 39.0  # ∂c/∂a = 13 · 3


def test_diamond_graph():
    x = Value(0.5, "x")
    left, right = x.exp(), x.sigmoid()
    out = left * right
    out.backward()
    s = 1 / (1 + math.exp(-0.5))
    expected = math.exp(0.5) * s + math.exp(0.5) * s * (1 - s)
    assert x.grad == pytest.approx(expected, rel=1e-15)


# ------------------------------------------------------------------ repeated backward


def test_backward_twice_doubles_leaves_and_refreshes_interior_nodes():
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y
    f = q * z
    f.backward()
    first = (x.grad, y.grad, z.grad)
    f.backward()
    assert (x.grad, y.grad, z.grad) == tuple(2 * g for g in first) == (-8.0, -8.0, 6.0)
    assert q.grad == -4.0  # this pass's ∂f/∂q, not the sum of both passes
    assert f.grad == 1.0


def test_backward_from_an_interior_node_then_from_the_root():
    a = Value(2.0, "a")
    b = a * a  # db/da = 4
    c = b * 3  # dc/da = 12
    b.backward()
    assert (a.grad, b.grad) == (4.0, 1.0)
    c.backward()
    assert a.grad == 16.0  # the leaf accumulates 4 + 12
    assert (b.grad, c.grad) == (3.0, 1.0)  # interior nodes show the latest pass


def test_zeroing_grads_between_passes_micrograd_style():
    w = Value(1.5)
    for _ in range(3):
        w.grad = 0.0
        (w * w).backward()
        assert w.grad == 3.0


# ------------------------------------------------------------------ determinism


def _random_graph(seed: int):
    """A graph that mixes every primitive, with a lot of sharing, from a fixed seed."""
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(0.5, 1.5), f"x{i}") for i in range(6)]
    pool = list(leaves)
    for _ in range(300):
        a, b = rng.choice(pool), rng.choice(pool)
        op = rng.randrange(7)
        if op == 0:
            node = a + b
        elif op == 1:
            node = (a * b).tanh()
        elif op == 2:
            node = a.sigmoid() * 2
        elif op == 3:
            node = a.max(b) - 0.5 * b
        elif op == 4:
            node = (a * a + 1).log()
        elif op == 5:
            node = a / (1 + b * b)
        else:
            node = (a**2 + 0.1) ** 0.5
        pool.append(node)
    return leaves, sum(pool[-50:])


def test_same_program_gives_bit_identical_gradients():
    results = []
    for _ in range(3):
        leaves, out = _random_graph(7)
        garbage = [Value(float(i)) for i in range(1000)]  # move later allocations elsewhere
        out.backward()
        results.append([leaf.grad for leaf in leaves] + [g.data for g in grad(out, leaves)])
        del garbage
    assert results[0] == results[1] == results[2]
    assert all(math.isfinite(g) and g != 0.0 for g in results[0])
    # grad() and backward() agree bit for bit
    assert results[0][:6] == results[0][6:]


def test_same_program_gives_bit_identical_gradients_across_processes():
    program = (  # _random_graph's own source: importing this module would import pytest too (0.4 s a process)
        "import random\nfrom scalargrad import Value\n" + inspect.getsource(_random_graph)
        + "leaves, out = _random_graph(11); out.backward(); print([l.grad.hex() for l in leaves])"
    )
    outputs = set()
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, check=True)
        outputs.add(done.stdout)
    leaves, out = _random_graph(11)
    out.backward()
    outputs.add(str([leaf.grad.hex() for leaf in leaves]) + "\n")
    assert len(outputs) == 1


# ------------------------------------------------------------------ no_grad, detach


def test_no_grad_results_are_leaves():
    a, b = Value(2.0), Value(3.0)
    with no_grad():
        c = a * b + a.exp()
        assert c.is_leaf and c.parents == () and c.op == ""
        assert c.data == pytest.approx(6.0 + math.exp(2.0))
        with enable_grad():
            d = a * b
            assert d.parents == (a, b)
        e = a * b
        assert e.is_leaf
    f = a * b
    assert f.parents == (a, b)
    c.backward()
    assert (a.grad, b.grad, c.grad) == (0.0, 0.0, 1.0)


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(NonFiniteError):
        with no_grad():
            1 / Value(0.0)
    assert (Value(1.0) + 1).parents != ()


def test_no_grad_in_one_thread_does_not_affect_another():
    barrier = threading.Barrier(2, timeout=10)
    results = {}

    def without_graph():
        with no_grad():
            barrier.wait()  # the other thread records while we are inside no_grad
            results["inside"] = (Value(1.0) * 2).is_leaf
            barrier.wait()

    def with_graph():
        barrier.wait()
        results["other"] = (Value(1.0) * 2).is_leaf
        barrier.wait()

    threads = [threading.Thread(target=without_graph), threading.Thread(target=with_graph)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {"inside": True, "other": False}


def test_no_grad_in_one_asyncio_task_does_not_affect_another():
    async def without_graph(step):
        with no_grad():
            await step.wait()
            return (Value(1.0) * 2).is_leaf

    async def with_graph(step):
        await asyncio.sleep(0)  # the other task is now suspended inside no_grad
        node_is_leaf = (Value(1.0) * 2).is_leaf
        step.set()
        return node_is_leaf

    async def main():
        step = asyncio.Event()
        return await asyncio.gather(without_graph(step), with_graph(step))

    assert asyncio.run(main()) == [True, False]


def test_scope_names_nodes_and_nests_with_dots():
    a = Value(1.0)
    with scope("layer1") as name:
        assert name == "layer1"
        b = a * 2
        with scope("neuron3"):
            c = b.tanh()
    d = c + 1
    assert (a.scope, b.scope, c.scope, d.scope) == ("", "layer1", "layer1.neuron3", "")
    assert isinstance(b.parents[1], Constant) and b.parents[1].scope == "layer1"


def test_detach_makes_a_leaf_with_the_same_data_and_label():
    x = Value(3.0, "x")
    y = x * x
    y.label = "y"
    d = y.detach()
    assert d is not y and d.is_leaf and d.data == 9.0 and d.label == "y" and d.grad == 0.0
    out = d * x  # the gradient stops at d
    out.backward()
    assert x.grad == 9.0 and d.grad == 3.0 and y.grad == 0.0


# ------------------------------------------------------------------ grad()


def test_grad_leaves_every_dot_grad_untouched():
    x, y = Value(2.0, "x"), Value(-1.0, "y")
    h = x * y
    out = h.tanh() + x
    for node, stale in ((x, 11.0), (y, 12.0), (h, 13.0), (out, 14.0)):
        node.grad = stale
    gx, gy, gh = grad(out, [x, y, h])
    t = math.tanh(-2.0)
    assert gx.data == pytest.approx((1 - t * t) * -1.0 + 1.0, rel=1e-15)
    assert gy.data == pytest.approx((1 - t * t) * 2.0, rel=1e-15)
    assert gh.data == pytest.approx(1 - t * t, rel=1e-15)
    assert (x.grad, y.grad, h.grad, out.grad) == (11.0, 12.0, 13.0, 14.0)
    assert all(isinstance(g, Value) and g.is_leaf for g in (gx, gy, gh))


def test_grad_gives_zero_for_an_input_the_output_does_not_depend_on():
    x, unrelated = Value(2.0), Value(5.0)
    (gx, gu) = grad(x * 3, [x, unrelated])
    assert (gx.data, gu.data) == (3.0, 0.0)
    assert isinstance(gu, Value)
    (gu2,) = grad(x * 3, [unrelated], create_graph=True)
    assert gu2.data == 0.0 and isinstance(gu2, Value)


def test_grad_of_an_output_with_respect_to_itself_is_one():
    x = Value(2.0)
    y = x.exp()
    assert [g.data for g in grad(y, [y, x])] == [1.0, y.data]
    assert grad(x, [x])[0].data == 1.0


def test_grad_with_repeated_inputs():
    x = Value(2.0)
    assert [g.data for g in grad(x * x, [x, x])] == [4.0, 4.0]


# ------------------------------------------------------------------ higher-order gradients


def _derivatives(f, x0, n):
    """[f, f', f'', ...] at x0 up to the n-th derivative, each by grad(create_graph=True)."""
    x = Value(x0, "x")
    current = f(x)
    out = [current.data]
    for _ in range(n):
        (current,) = grad(current, [x], create_graph=True)
        out.append(current.data)
    return out


@pytest.mark.parametrize("x0", [-1.5, 0.5, 2.0])
def test_derivatives_of_x_cubed(x0):
    # x³ → 3x² → 6x → 6 → 0
    assert _derivatives(lambda x: x**3, x0, 4) == pytest.approx([x0**3, 3 * x0**2, 6 * x0, 6.0, 0.0], rel=1e-14)
    assert _derivatives(lambda x: x * x * x, x0, 4) == pytest.approx([x0**3, 3 * x0**2, 6 * x0, 6.0, 0.0], rel=1e-14)


@pytest.mark.parametrize("x0", [-2.0, 0.0, 1.3])
def test_every_derivative_of_exp_is_exp(x0):
    assert _derivatives(lambda x: x.exp(), x0, 3) == pytest.approx([math.exp(x0)] * 4, rel=1e-15)


@pytest.mark.parametrize("x0", [-2.0, 0.0, 0.7, 3.0])
def test_second_derivative_of_sigmoid(x0):
    s = 1 / (1 + math.exp(-x0))
    # σ′ = σ(1 − σ),  σ″ = σ(1 − σ)(1 − 2σ)
    expected = [s, s * (1 - s), s * (1 - s) * (1 - 2 * s)]
    assert _derivatives(lambda x: x.sigmoid(), x0, 2) == pytest.approx(expected, rel=1e-12, abs=1e-16)


@pytest.mark.parametrize("x0", [-1.0, 0.0, 0.4, 2.0])
def test_second_and_third_derivatives_of_tanh(x0):
    t = math.tanh(x0)
    # tanh′ = 1 − t²,  tanh″ = −2t(1 − t²),  tanh‴ = −2(1 − t²)(1 − 3t²)
    expected = [t, 1 - t * t, -2 * t * (1 - t * t), -2 * (1 - t * t) * (1 - 3 * t * t)]
    assert _derivatives(lambda x: x.tanh(), x0, 3) == pytest.approx(expected, rel=1e-12, abs=1e-16)


@pytest.mark.parametrize("x0", [0.5, 2.0])
def test_higher_derivatives_of_log_reciprocal_and_roots(x0):
    assert _derivatives(lambda x: x.log(), x0, 3) == pytest.approx([math.log(x0), 1 / x0, -1 / x0**2, 2 / x0**3], rel=1e-14)
    assert _derivatives(lambda x: 1 / x, x0, 3) == pytest.approx([1 / x0, -1 / x0**2, 2 / x0**3, -6 / x0**4], rel=1e-14)
    assert _derivatives(lambda x: x**0.5, x0, 2) == pytest.approx(
        [x0**0.5, 0.5 * x0**-0.5, -0.25 * x0**-1.5], rel=1e-14
    )


@pytest.mark.parametrize("x0", [-1.0, 2.0])
def test_second_derivative_of_piecewise_linear_gates_is_zero(x0):
    assert _derivatives(lambda x: x.relu(), x0, 2) == [max(x0, 0.0), float(x0 > 0), 0.0]
    assert _derivatives(lambda x: x.max(0.5) * 3, x0, 2) == [3 * max(x0, 0.5), 3.0 * (x0 > 0.5), 0.0]


@pytest.mark.parametrize("x0, y0", [(0.5, -1.0), (-2.0, 3.0), (0.0, 1.0)])
def test_hessian_of_x_y_exp_x(x0, y0):
    # f = x·y·eˣ:  ∂f/∂x = y(1 + x)eˣ,  ∂f/∂y = x·eˣ
    #   ∂²f/∂x∂y = (1 + x)eˣ (both orders),  ∂²f/∂x² = y(2 + x)eˣ,  ∂²f/∂y² = 0
    x, y = Value(x0, "x"), Value(y0, "y")
    f = x * y * x.exp()
    fx, fy = grad(f, [x, y], create_graph=True)
    fxx, fxy = grad(fx, [x, y])
    fyx, fyy = grad(fy, [x, y])
    e = math.exp(x0)
    assert fx.data == pytest.approx(y0 * (1 + x0) * e, rel=1e-14)
    assert fy.data == pytest.approx(x0 * e, rel=1e-14, abs=1e-300)
    assert fxy.data == pytest.approx((1 + x0) * e, rel=1e-14)
    assert fyx.data == pytest.approx((1 + x0) * e, rel=1e-14)
    assert fxx.data == pytest.approx(y0 * (2 + x0) * e, rel=1e-14)
    assert fyy.data == 0.0
    assert (x.grad, y.grad, f.grad) == (0.0, 0.0, 0.0)


def test_backward_on_a_gradient_graph_gives_the_second_derivative():
    x = Value(1.5, "x")
    (dx,) = grad(x**4, [x], create_graph=True)
    assert dx.data == pytest.approx(4 * 1.5**3)
    assert not dx.is_leaf
    dx.backward()
    assert x.grad == pytest.approx(12 * 1.5**2, rel=1e-15)


def test_create_graph_gradients_equal_plain_gradients():
    leaves, out = _random_graph(3)
    plain = [g.data for g in grad(out, leaves)]
    graphed = [g.data for g in grad(out, leaves, create_graph=True)]
    assert graphed == pytest.approx(plain, rel=1e-12)


# ------------------------------------------------------------------ repr, identity


def test_repr_shows_label_data_and_grad():
    x = Value(2.0, "x")
    x.grad = -0.5
    assert repr(x) == "Value(label='x', data=2.0, grad=-0.5)"
    assert repr(Value(3)) == "Value(data=3.0, grad=0.0)"
    assert float(x) == 2.0


def test_values_hash_and_compare_by_identity():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b, a}) == 2
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    assert hash(a) == hash(a) and a in {a} and Value(1.0) not in {a, b}


# ------------------------------------------------------------------ micrograd compatibility


def _trace(root):
    """micrograd's draw_dot helper: collect nodes and edges through _prev."""
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def test_micrograd_graph_walk_and_training_step():
    w, b = Value(0.5), Value(-0.2)
    xs, ys = [1.0, 2.0, -1.0], [1.0, -1.0, 1.0]
    losses = []
    for _ in range(20):
        loss = sum(((1 + -y * (w * x + b)).relu() for x, y in zip(xs, ys)), Value(0.0)) * (1.0 / len(xs))
        losses.append(loss.data)
        for p in (w, b):
            p.grad = 0
        loss.backward()
        for p in (w, b):
            p.data -= 0.1 * p.grad
    assert losses[-1] < losses[0]
    nodes, edges = _trace(loss)
    assert w in nodes and b in nodes
    assert all(child in nodes and parent in nodes for child, parent in edges)
    assert {n._op for n in nodes} >= {"", "+", "*", "relu"}
    assert loss._prev == loss.parents and isinstance(loss._prev, tuple)


def test_push_scope_and_pop_scope_are_scope_without_a_with_block():
    from scalargrad.engine.context import pop_scope, push_scope

    a = Value(1.0)
    outer = push_scope("layers.0")
    inner = push_scope("neurons.2")
    b = a * 2
    pop_scope(inner)
    c = a * 3
    pop_scope(outer)
    d = a * 4
    assert (b.scope, c.scope, d.scope) == ("layers.0.neurons.2", "layers.0", "")
    with pytest.raises(ValueError, match="non-empty string name, got 3"):
        push_scope(3)
    with pytest.raises(ValueError, match=r"non-empty string name, got \['layers'\]"):
        push_scope(["layers"])  # unhashable: still the clear message, not dict's TypeError
    with pytest.raises(ValueError, match="non-empty string name, got ''"):
        scope("")
    assert (a * 5).scope == ""  # a refused name leaves the scope as it was


def test_scopes_keep_their_names_past_the_cache_limit():
    from scalargrad.engine import context

    for i in range(context._CHILDREN_LIMIT + 10):
        with scope(f"step{i}"), scope("inner"):
            v = Value(1.0) * 2
        assert v.scope == f"step{i}.inner"
    assert len(context._CHILDREN) <= context._CHILDREN_LIMIT


def test_threads_sorting_one_shared_graph_at_once_each_get_the_whole_order():
    import sys
    import threading

    xs = [Value(float(i)) for i in range(50)]
    layer = xs
    for _ in range(40):  # a lattice: every node reached along many paths
        layer = [a * 0.5 + b * 0.5 for a, b in zip(layer, layer[1:] + layer[:1])]
    root = sum(layer)
    expected = topological_order(root)
    results, switch = [], sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=lambda: results.append(topological_order(root))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    assert len(results) == 4 and all(r == expected for r in results)
    assert len(expected) == len(set(expected))


def test_a_graph_survives_pickle_and_deepcopy_and_backpropagates_the_same():
    import copy
    import pickle

    def build():
        x = Value(2.0, "x")
        y = ((x * x + 1) ** 0.5).tanh().max(x**-1.5) + x.log().exp() / 3
        return x, y

    x, y = build()
    y.backward()
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        order = topological_order(clone)
        leaf = next(n for n in order if n.label == "x")
        assert [n.op for n in order] == [n.op for n in topological_order(y)]
        assert all(a.primitive is b.primitive for a, b in zip(order, topological_order(y)))  # the table's entries
        for n in order:
            n.grad = 0.0
        clone.backward()
        assert leaf.grad == x.grad and clone.data == y.data


def test_primitive_named_finds_table_entries_and_powers_and_refuses_others():
    from scalargrad.engine.primitives import TABLE, power, primitive_named

    assert all(primitive_named(p.name) is p for p in TABLE)
    assert primitive_named("**2") is power(2.0) and primitive_named("**-1.5") is power(-1.5)
    with pytest.raises(KeyError, match="no primitive is named 'sin'"):
        primitive_named("sin")
