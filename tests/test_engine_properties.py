"""Property tests: random expression graphs over 1–4 inputs, their gradients against
central differences, and their second derivatives against central differences of
the first derivatives.

A graph is a small program: each step applies one operation to earlier nodes. Every
operation is written so that it is defined for any input (log and powers get
``a·a + c`` with c > 0), and a node whose value leaves [-100, 100] is passed through
tanh, so nothing overflows. Points within reach of a kink (relu at 0, a tie of max)
are skipped: there the one-sided slopes differ and a central difference says nothing.
"""

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scalargrad import Value, grad, gradcheck, no_grad

OPERATIONS = {
    # unary (the second operand is ignored)
    "neg": lambda a, b: -a,
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: (a * a + 0.1).log(),
    "sqrt": lambda a, b: (a * a + 0.1) ** 0.5,
    "cube": lambda a, b: a**3,
    "inverse power": lambda a, b: (a * a + 0.5) ** -1.5,
    "two to the": lambda a, b: 2**a,
    "reciprocal": lambda a, b: 1 / (a * a + 0.5),
    # binary
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5),
    "max": lambda a, b: a.max(b),
    "numbers mixed in": lambda a, b: 3 - 2 * a + b / 4,
}
LIMIT = 100.0

finite = st.floats(min_value=-3.0, max_value=3.0, allow_nan=False, allow_infinity=False)


@st.composite
def programs(draw):
    """(input values, steps): step k is (operation, i, j) on nodes i, j among the inputs and steps before k."""
    n = draw(st.integers(min_value=1, max_value=4))
    xs = draw(st.lists(finite, min_size=n, max_size=n))
    steps = []
    for k in range(draw(st.integers(min_value=1, max_value=8))):
        size = n + k
        steps.append(
            (
                draw(st.sampled_from(sorted(OPERATIONS))),
                draw(st.integers(min_value=0, max_value=size - 1)),
                draw(st.integers(min_value=0, max_value=size - 1)),
            )
        )
    return xs, steps


def run(steps, leaves, squash=None):
    """Evaluate the program on ``leaves``. Returns (output, kink arguments, squash flags).

    ``squash`` (which nodes go through tanh) is decided on the first run, at the test
    point, and then replayed, so the program is one fixed smooth function of its inputs.
    """
    pool = list(leaves)
    kinks = []
    record = squash is None
    squash = [] if record else squash
    for k, (name, i, j) in enumerate(steps):
        a, b = pool[i], pool[j]
        if name == "relu":
            kinks.append(a)
        elif name == "max" and a is not b:
            kinks.append(a - b)
        node = OPERATIONS[name](a, b)
        if record:
            squash.append(abs(node.data) > LIMIT)
        if squash[k]:
            node = node.tanh()
        pool.append(node)
    return pool[-1], kinks, squash


def function_of(steps, squash):
    return lambda *leaves: run(steps, leaves, squash)[0]


def far_from_kinks(kinks, leaves, h):
    """Every kink argument stays on one side while any input moves by h."""
    for k in kinks:
        slope = sum(abs(g.data) for g in grad(k, leaves))
        if not abs(k.data) > 10 * h * slope + 1e-7:
            return False
    return True


FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@FAST
@given(programs())
def test_gradients_match_central_differences(program):
    xs, steps = program
    leaves = [Value(x, f"x{i}") for i, x in enumerate(xs)]
    out, kinks, squash = run(steps, leaves)
    assume(far_from_kinks(kinks, leaves, 1e-6))
    assert gradcheck(function_of(steps, squash), xs, eps=1e-6, atol=1e-5, rtol=1e-4)


@FAST
@given(programs())
def test_backward_grad_and_create_graph_agree(program):
    xs, steps = program
    leaves = [Value(x) for x in xs]
    out, _, _ = run(steps, leaves)
    plain = [g.data for g in grad(out, leaves)]
    graphed = [g.data for g in grad(out, leaves, create_graph=True)]
    out.backward()
    assert [leaf.grad for leaf in leaves] == plain
    for p, g in zip(plain, graphed):
        assert math.isclose(p, g, rel_tol=1e-12, abs_tol=1e-300)
    # the same program under no_grad computes the same number and records nothing
    with no_grad():
        quiet, _, _ = run(steps, [Value(x) for x in xs])
    assert quiet.data == out.data and quiet.is_leaf


def _first_derivatives(f, xs):
    leaves = [Value(x) for x in xs]
    return [g.data for g in grad(f(*leaves), leaves)]


@FAST
@given(programs(), st.data())
def test_second_derivatives_match_differences_of_first_derivatives(program, data):
    xs, steps = program
    leaves = [Value(x) for x in xs]
    out, kinks, squash = run(steps, leaves)
    h = 1e-5
    assume(far_from_kinks(kinks, leaves, h))
    f = function_of(steps, squash)
    i = data.draw(st.integers(min_value=0, max_value=len(xs) - 1), label="i")
    j = data.draw(st.integers(min_value=0, max_value=len(xs) - 1), label="j")

    (gi,) = grad(out, [leaves[i]], create_graph=True)
    hessian_row = [g.data for g in grad(gi, leaves)]  # ∂²f/∂xᵢ∂xⱼ for every j

    up, down = list(xs), list(xs)
    up[j] += h
    down[j] -= h
    g_up, g_down = _first_derivatives(f, up), _first_derivatives(f, down)
    numerical = (g_up[i] - g_down[i]) / (2 * h)
    scale = 1.0 + abs(numerical) + max(abs(g_up[i]), abs(g_down[i]))
    assert abs(hessian_row[j] - numerical) <= 1e-4 * scale, (hessian_row[j], numerical)


@FAST
@given(programs())
def test_hessian_is_symmetric(program):
    xs, steps = program
    leaves = [Value(x) for x in xs]
    out, kinks, _ = run(steps, leaves)
    first = grad(out, leaves, create_graph=True)
    hessian = [[g.data for g in grad(gi, leaves)] for gi in first]
    for i in range(len(xs)):
        for j in range(i):
            a, b = hessian[i][j], hessian[j][i]
            assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * (1 + max(map(abs, (g.data for g in first))))), (i, j, a, b)
