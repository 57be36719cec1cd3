"""Every primitive and operator: its forward value, its gradient against central
differences, the node it makes (op name, parents, recorded local derivatives), and
its edge points (ties of max, relu at 0, sigmoid/tanh far out)."""

import math
import re

import pytest

from scalargrad import NonFiniteError, Constant, Value, grad, gradcheck, numerical_gradient


def central_difference(f, xs, i, h=1e-6):
    """(f(…, xᵢ + h, …) − f(…, xᵢ − h, …)) / 2h, with plain floats in and f(...).data out."""
    up, down = list(xs), list(xs)
    up[i] += h
    down[i] -= h
    return (f(*map(Value, up)).data - f(*map(Value, down)).data) / (2 * h)


def backward_gradients(f, xs):
    leaves = [Value(x) for x in xs]
    out = f(*leaves)
    out.backward()
    return out, [leaf.grad for leaf in leaves]


# name, function, expected forward in floats, points where it is smooth
UNARY = [
    ("exp", lambda a: a.exp(), math.exp, [-3.0, 0.0, 0.5, 20.0]),
    ("log", lambda a: a.log(), math.log, [1e-3, 0.5, 1.0, 7.0]),
    ("reciprocal", lambda a: a.reciprocal(), lambda x: 1 / x, [-2.0, -0.1, 0.3, 4.0]),
    ("1 / a", lambda a: 1 / a, lambda x: 1 / x, [-2.0, 0.3, 4.0]),
    ("relu", lambda a: a.relu(), lambda x: max(x, 0.0), [-2.0, -1e-3, 1e-3, 3.0]),
    ("sigmoid", lambda a: a.sigmoid(), lambda x: 1 / (1 + math.exp(-x)), [-8.0, -1.0, 0.0, 0.7, 8.0]),
    ("tanh", lambda a: a.tanh(), math.tanh, [-3.0, -0.2, 0.0, 1.1, 3.0]),
    ("neg", lambda a: -a, lambda x: -x, [-2.0, 0.0, 3.5]),
    ("**2", lambda a: a**2, lambda x: x**2, [-3.0, 0.0, 0.5, 2.0]),
    ("**3", lambda a: a**3, lambda x: x**3, [-1.5, 0.0, 2.0]),
    ("**0", lambda a: a**0, lambda x: 1.0, [-2.0, 0.0, 3.0]),
    ("**1", lambda a: a**1, lambda x: x, [-2.0, 0.0, 3.0]),
    ("**-1", lambda a: a**-1, lambda x: 1 / x, [-2.0, 0.5, 3.0]),
    ("**-2", lambda a: a**-2, lambda x: x**-2, [-2.0, 0.5, 3.0]),
    ("**0.5", lambda a: a**0.5, math.sqrt, [0.01, 1.0, 9.0]),
    ("**1.5", lambda a: a**1.5, lambda x: x**1.5, [0.01, 1.0, 4.0]),
    ("**-0.5", lambda a: a**-0.5, lambda x: x**-0.5, [0.25, 1.0, 4.0]),
    ("**-1.5", lambda a: a**-1.5, lambda x: x**-1.5, [0.5, 2.0]),
    ("**2.5", lambda a: a**2.5, lambda x: x**2.5, [0.3, 2.0]),
    ("2 + a", lambda a: 2 + a, lambda x: 2 + x, [-1.0, 4.0]),
    ("a + 2", lambda a: a + 2, lambda x: x + 2, [-1.0, 4.0]),
    ("2 * a", lambda a: 2 * a, lambda x: 2 * x, [-1.0, 4.0]),
    ("a * 2", lambda a: a * 2, lambda x: x * 2, [-1.0, 4.0]),
    ("2 - a", lambda a: 2 - a, lambda x: 2 - x, [-1.0, 4.0]),
    ("a - 2", lambda a: a - 2, lambda x: x - 2, [-1.0, 4.0]),
    ("2 / a", lambda a: 2 / a, lambda x: 2 / x, [-1.0, 0.5, 4.0]),
    ("a / 2", lambda a: a / 2, lambda x: x / 2, [-1.0, 4.0]),
    ("2 ** a", lambda a: 2**a, lambda x: 2**x, [-3.0, 0.0, 1.5, 10.0]),
    ("0.5 ** a", lambda a: 0.5**a, lambda x: 0.5**x, [-3.0, 0.0, 2.0]),
    ("a.max(2)", lambda a: a.max(2), lambda x: max(x, 2.0), [-1.0, 1.9, 2.1, 5.0]),
]

BINARY = [
    ("a + b", lambda a, b: a + b, lambda x, y: x + y),
    ("a * b", lambda a, b: a * b, lambda x, y: x * y),
    ("a - b", lambda a, b: a - b, lambda x, y: x - y),
    ("a / b", lambda a, b: a / b, lambda x, y: x / y),
    ("a.max(b)", lambda a, b: a.max(b), max),
    ("b.max(a)", lambda a, b: b.max(a), lambda x, y: max(y, x)),
]
BINARY_POINTS = [(1.3, -0.7), (-2.0, 0.5), (0.4, 3.1), (-1.5, -4.0)]


def _assert_matches_central_difference(f, xs):
    out, analytic = backward_gradients(f, xs)
    for i, a in enumerate(analytic):
        h = 1e-6 * max(1.0, abs(xs[i]))
        numeric = central_difference(f, xs, i, h)
        assert a == pytest.approx(numeric, rel=1e-5, abs=1e-6), (i, xs)
    return out


@pytest.mark.parametrize(
    "name, f, expected, x0",
    [(name, f, expected, x0) for name, f, expected, points in UNARY for x0 in points],
    ids=lambda p: p if isinstance(p, str) else None,
)
def test_unary_forward_and_gradient(name, f, expected, x0):
    out = _assert_matches_central_difference(f, [x0])
    assert out.data == pytest.approx(expected(x0), rel=1e-14, abs=1e-300)
    assert isinstance(out.data, float)


@pytest.mark.parametrize("name, f, expected", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("x0, y0", BINARY_POINTS)
def test_binary_forward_and_gradient(name, f, expected, x0, y0):
    out = _assert_matches_central_difference(f, [x0, y0])
    assert out.data == pytest.approx(expected(x0, y0), rel=1e-15)


@pytest.mark.parametrize("x0, y0", BINARY_POINTS)
def test_exact_local_derivatives_of_the_binary_primitives(x0, y0):
    a, b = Value(x0), Value(y0)
    assert (a + b).local_grads == (1.0, 1.0)
    assert (a * b).local_grads == (y0, x0)
    larger_first = (1.0, 0.0) if x0 > y0 else (0.0, 1.0)
    assert a.max(b).local_grads == larger_first


@pytest.mark.parametrize("x0", [-2.5, 0.3, 1.0, 4.0])
def test_exact_local_derivatives_of_the_unary_primitives(x0):
    a = Value(x0)
    e = a.exp()
    assert e.local_grads == (e.data,)  # d/dx eˣ = eˣ
    r = a.reciprocal()
    assert r.local_grads == (-(r.data * r.data),)  # d/dx 1/x = −1/x²
    s = a.sigmoid()
    assert s.local_grads == (s.data * (1 - s.data),)  # σ′ = y(1 − y)
    t = a.tanh()
    assert t.local_grads == (1 - t.data * t.data,)  # tanh′ = 1 − y²
    assert a.relu().local_grads == ((1.0 if x0 > 0 else 0.0),)
    assert (a**3).local_grads == pytest.approx((3 * x0**2,), rel=1e-15)
    if x0 > 0:
        assert a.log().local_grads == (1 / x0,)  # d/dx ln x = 1/x


def test_sum_of_values():
    xs = [Value(v) for v in (1.5, -2.0, 4.25, 0.0)]
    s = sum(xs)
    assert isinstance(s, Value) and s.data == 3.75
    s.backward()
    assert [x.grad for x in xs] == [1.0, 1.0, 1.0, 1.0]
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    assert [g.data for g in grad(weighted, xs)] == [1.0, 2.0, 3.0, 4.0]


def test_sum_with_a_start_value_and_numbers_mixed_in():
    a, b = Value(2.0), Value(3.0)
    s = sum([a, 1, b, 2.5], Value(10.0))
    assert s.data == 18.5
    s.backward()
    assert (a.grad, b.grad) == (1.0, 1.0)


# ------------------------------------------------------------------ edge points


@pytest.mark.parametrize("x0", [-1.0, 0.0, 2.5])
def test_max_tie_splits_the_gradient_evenly(x0):
    a, b = Value(x0, "a"), Value(x0, "b")
    m = a.max(b)
    assert m.data == x0
    assert m.local_grads == (0.5, 0.5)
    (3 * m).backward()
    assert (a.grad, b.grad) == (1.5, 1.5)
    # the central difference of max at a tie is exactly ½ too
    assert central_difference(lambda p, q: p.max(q), [x0, x0], 0) == pytest.approx(0.5, rel=1e-6)


def test_max_of_a_value_with_itself_sends_the_whole_gradient_back():
    a = Value(1.25)
    a.max(a).backward()
    assert a.grad == 1.0


def test_relu_at_zero_has_gradient_zero():
    for zero in (0.0, -0.0, 0):
        x = Value(zero)
        r = x.relu()
        assert r.data == 0.0 and r.local_grads == (0.0,)
        r.backward()
        assert x.grad == 0.0


@pytest.mark.parametrize("x0", [0.0, -0.0])
def test_power_of_zero_at_zero_with_exponent_zero_and_two(x0):
    x = Value(x0)
    (x**0).backward()  # d/dx x⁰ = 0 everywhere, including 0
    assert x.grad == 0.0
    y = Value(x0)
    (y**2).backward()
    assert y.grad == 0.0
    z = Value(x0)
    (z**1.5).backward()  # 1.5·x^0.5 → 0 at 0
    assert z.grad == 0.0


@pytest.mark.parametrize("x0", [-1000.0, -745.0, -40.0, 40.0, 745.0, 1000.0, 1e300, -1e300])
def test_sigmoid_and_tanh_far_out_do_not_overflow(x0):
    x = Value(x0)
    s = x.sigmoid()
    t = x.tanh()
    assert s.data == pytest.approx(1.0 if x0 > 0 else 0.0, abs=1e-17)
    assert t.data == (1.0 if x0 > 0 else -1.0)
    (s + t).backward()
    assert math.isfinite(x.grad) and 0.0 <= x.grad < 1e-16


@pytest.mark.parametrize("x0", [-30.0, -5.0, -1.0, -1e-8, 0.0, 0.25, 3.0, 30.0])
def test_composed_and_fused_sigmoid_agree(x0):
    a, b = Value(x0), Value(x0)
    composed = 1 / (1 + (-a).exp())  # the slide's graph
    fused = b.sigmoid()
    assert composed.data == pytest.approx(fused.data, rel=1e-14)
    composed.backward()
    fused.backward()
    exact = math.exp(-abs(x0)) / (1 + math.exp(-abs(x0))) ** 2  # σ′(x) = e⁻ˣ/(1 + e⁻ˣ)², symmetric in x
    # y(1 − y) loses relative precision where y is near 1 (1 − y cancels), as in every
    # engine that uses this rule; absolutely (next to σ′'s maximum ¼) both are exact.
    assert a.grad == pytest.approx(exact, rel=1e-12, abs=1e-16)
    assert b.grad == pytest.approx(exact, rel=1e-12, abs=1e-16)
    assert b.grad == fused.data * (1 - fused.data)


@pytest.mark.parametrize("x0", [-5.0, -0.5, 0.0, 0.3, 4.0])
def test_composed_and_fused_tanh_agree(x0):
    a, b = Value(x0), Value(x0)
    e2 = (2 * a).exp()
    composed = (e2 - 1) / (e2 + 1)
    fused = b.tanh()
    assert composed.data == pytest.approx(fused.data, rel=1e-12, abs=1e-15)
    composed.backward()
    fused.backward()
    assert a.grad == pytest.approx(b.grad, rel=1e-10)


def test_exp_near_its_largest_argument():
    x = Value(709.0)
    y = x.exp()
    assert math.isfinite(y.data)
    y.backward()
    assert x.grad == y.data


# ------------------------------------------------------------------ the nodes the operators make


def test_primitive_op_names_and_parents():
    a, b = Value(3.0, "a"), Value(-2.0, "b")
    for node, op, parents in [
        (a + b, "+", (a, b)),
        (a * b, "*", (a, b)),
        (a.max(b), "max", (a, b)),
        (b.max(a), "max", (b, a)),
        (a.exp(), "exp", (a,)),
        (a.log(), "log", (a,)),
        (a.reciprocal(), "1/x", (a,)),
        (a.relu(), "relu", (a,)),
        (a.sigmoid(), "sigmoid", (a,)),
        (a.tanh(), "tanh", (a,)),
        (a**2, "**2", (a,)),
        (a**0.5, "**0.5", (a,)),
        (a**-1.5, "**-1.5", (a,)),
        (a**2.0, "**2", (a,)),
    ]:
        assert node.op == op and node._op == op
        assert node.parents == parents and node._prev == parents
        assert not node.is_leaf
        assert node.primitive is not None and node.primitive.name == op


def test_leaves_have_no_op_and_no_parents():
    a = Value(1.0)
    assert a.op == "" and a.parents == () and a.local_grads == () and a.is_leaf and a.primitive is None


def _only_constant(node):
    (c,) = [p for p in node.parents if isinstance(p, Constant)]
    return c


def test_division_shows_a_reciprocal_node():
    a, b = Value(6.0, "a"), Value(3.0, "b")
    q = a / b  # a / b = a · (1/b): a '1/x' node, as in the slides' sigmoid graph
    assert q.op == "*"
    left, right = q.parents
    assert left is a
    assert right.op == "1/x" and right.parents == (b,)
    assert q.data == 2.0


def test_one_over_a_is_a_single_reciprocal_node():
    a = Value(4.0)
    for r in (1 / a, 1.0 / a):
        assert r.op == "1/x" and r.parents == (a,) and r.data == 0.25


def test_two_over_a_is_a_constant_times_a_reciprocal():
    a = Value(4.0)
    q = 2 / a
    assert q.op == "*"
    c, r = q.parents
    assert isinstance(c, Constant) and c.data == 2.0 and c.is_leaf
    assert r.op == "1/x" and r.parents == (a,)


def test_numbers_become_constant_leaves():
    a = Value(1.5)
    for node in (a + 2, 2 + a, a * 2, 2 * a, a.max(2)):
        c = _only_constant(node)
        assert c.data == 2.0 and c.is_leaf and c.op == ""
        assert a in node.parents


def test_negation_and_subtraction_nodes():
    a, b = Value(5.0, "a"), Value(2.0, "b")
    n = -a
    assert n.op == "*" and n.parents[0] is a and _only_constant(n).data == -1.0 and n.data == -5.0
    d = a - b
    assert d.op == "+" and d.parents[0] is a and d.data == 3.0
    negated = d.parents[1]
    assert negated.op == "*" and negated.parents[0] is b
    e = a - 2
    assert e.op == "+" and e.parents[0] is a and _only_constant(e).data == -2.0 and e.data == 3.0
    r = 2 - a
    assert r.op == "+" and r.data == -3.0


def test_number_to_the_power_of_a_value_is_exp_of_a_product():
    a = Value(3.0)
    p = 2**a  # 2ˣ = exp(x · ln 2)
    assert p.op == "exp"
    (product,) = p.parents
    assert product.op == "*" and product.parents[0] is a
    assert _only_constant(product).data == math.log(2.0)
    assert p.data == pytest.approx(8.0, rel=1e-15)
    p.backward()
    assert a.grad == pytest.approx(8.0 * math.log(2.0), rel=1e-15)


def test_numpy_scalars_mix_in():
    np = pytest.importorskip("numpy")
    a = Value(np.float32(1.5))
    assert type(a.data) is float and a.data == 1.5
    b = a * np.float64(2.0) + np.int64(1)
    assert type(b.data) is float and b.data == 4.0
    b.backward()
    assert a.grad == 2.0


# ------------------------------------------------------------------ the library's own checkers


def test_gradcheck_and_numerical_gradient_agree_with_the_engine():
    def f(x, y, z):
        return (x * y).tanh() + (z.exp() / (1 + x**2)).log() - y.max(z).relu() + 3 ** z.sigmoid()

    assert gradcheck(f, [0.3, -1.2, 0.8]) is True
    out, analytic = backward_gradients(f, [0.3, -1.2, 0.8])
    for i, a in enumerate(analytic):
        assert numerical_gradient(f, [0.3, -1.2, 0.8], i) == pytest.approx(a, rel=1e-6)


def test_gradcheck_accepts_values_and_leaves_their_grad_alone():
    x = Value(0.7, "x")
    x.grad = 5.0
    assert gradcheck(lambda v: v.sigmoid() * v, [x])
    assert gradcheck(lambda v: v**3, x)
    assert x.grad == 5.0 and x.data == 0.7


# Each primitive's node maker is generated from its text (for speed); it must make exactly the
# node the table's rule functions describe.
@pytest.mark.parametrize("x0, y0", [(1.5, -2.25), (0.5, 3.0), (-1e-300, 1e-10), (1e154, 1e154), (7.0, 7.0)])
@pytest.mark.parametrize("name", ["+", "*", "exp", "1/x", "max", "log", "relu", "sigmoid", "tanh", "**", "**2", "**-1", "**0.5"])
def test_every_node_maker_makes_the_tables_node(name, x0, y0):
    from scalargrad import apply
    from scalargrad.engine.primitives import primitive_named

    entry = primitive_named(name)
    inputs = (Value(x0), Value(y0))[: len(entry.inputs)]
    xs = [v.data for v in inputs]
    try:
        expected = entry.rule(*xs)
        expected_locals = entry.derivatives(*xs, expected)
    except (ArithmeticError, ValueError):
        with pytest.raises(NonFiniteError):
            apply(entry, *inputs)
        return
    if not all(map(math.isfinite, (expected, *expected_locals))):
        with pytest.raises(NonFiniteError):
            apply(entry, *inputs)
        return
    out = apply(entry, *inputs)
    assert out.primitive is entry and out.op == name and out.parents == inputs
    assert out.data == expected and out.local_grads == expected_locals
    assert out.grad == 0.0 and out.label == "" and out.scope == ""


@pytest.mark.parametrize("op, name", [(lambda a, b: a + b, "+"), (lambda a, b: a * b, "*")])
def test_add_and_mul_refuse_overflow_like_the_other_primitives(op, name):
    a, b = Value(1.5e308, "a"), Value(1.5e308)
    with pytest.raises(NonFiniteError, match=rf"^{re.escape(name)}: 1.5e\+308 {re.escape(name)} 1.5e\+308 = inf.*'a'"):
        op(a, b)


def test_a_user_primitive_draws_under_its_name_pickles_and_copies_as_the_registered_entry():
    import copy
    import pickle

    from draw_helpers import dot_nodes

    from scalargrad import apply, draw, grad, primitive

    softplus = primitive("softplus", ("x",), "where(x > 20.0, x, log(1.0 + exp(x)))", ("where(x > 20.0, 1.0, sigmoid(x))",))
    x = Value(0.5, "x")
    y = apply(softplus, x) * x
    assert "softplus" in [label for label, _ in dot_nodes(draw(y, edge_labels=True).source).values()]
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        node = clone.parents[0]
        assert node.primitive is softplus and node.op == "softplus" and node.local_grads == apply(softplus, x).local_grads
        d2, = grad(grad(clone, [clone.parents[1]], create_graph=True)[0], [clone.parents[1]])
        assert d2.data == grad(grad(y, [x], create_graph=True)[0], [x])[0].data
