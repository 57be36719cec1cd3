"""The lectures' worked examples, number for number.

Each test builds the slide's graph with Values, runs ``backward()`` and checks the
numbers the slide writes next to each node. Read a test next to its slide: the
comments quote the slide's formulas. The lecture notes are in ../shared/seeds/
(000: hand derivation of sigmoid + cross-entropy, 001: f = wx + b,
002: chain rule and the exercises, 003: f = (x + y)z and the sigmoid neuron).
"""

import math

import pytest

from scalargrad import Value, grad


def sigma(x: float) -> float:
    """The logistic function with plain floats, to compute the slides' exact numbers."""
    return 1.0 / (1.0 + math.exp(-x))


# ------------------------------------------------------------------ 003: f = (x + y)z


def test_f_equals_x_plus_y_times_z():
    # f(x, y, z) = (x + y)z,  e.g. x = -2, y = 5, z = -4
    x, y, z = Value(-2.0, "x"), Value(5.0, "y"), Value(-4.0, "z")
    q = x + y  # q = x + y        ∂q/∂x = 1, ∂q/∂y = 1
    f = q * z  # f = qz           ∂f/∂q = z, ∂f/∂z = q
    f.backward()

    assert q.data == 3.0
    assert f.data == -12.0
    assert z.grad == 3.0  # ∂f/∂z = q = x + y = -2 + 5 = 3
    assert q.grad == -4.0  # ∂f/∂q = z = -4
    assert x.grad == -4.0  # ∂f/∂x = ∂f/∂q · ∂q/∂x = -4 * 1 = -4
    assert y.grad == -4.0  # ∂f/∂y = ∂f/∂q · ∂q/∂y = -4 * 1 = -4
    assert f.grad == 1.0  # the backward pass starts with ∂f/∂f = 1


# ------------------------------------------------------------------ 001: f = wx + b


def test_f_equals_w_x_plus_b():
    # f = wx + b,  g = wx,  f = g + b;   ① forward (w = -2, x = 5, b = 3)  ② backward
    w, x, b = Value(-2.0, "w"), Value(5.0, "x"), Value(3.0, "b")
    g = w * x
    f = g + b
    f.backward()

    assert g.data == -10.0
    assert f.data == -7.0
    assert g.grad == 1.0 and b.grad == 1.0  # ∂f/∂g = 1, ∂f/∂b = 1
    assert x.grad == -2.0  # ∂f/∂x = ∂f/∂g · ∂g/∂x = 1 * w = -2
    assert w.grad == 5.0  # ∂f/∂w = ∂f/∂g · ∂g/∂w = 1 * x = 5


# ------------------------------------------------------------------ 002: the chain rule


POINTS = [(3.0, -2.0), (-1.5, 4.0), (0.0, 7.0), (2.5, 2.5)]


@pytest.mark.parametrize("x0, y0", POINTS)
def test_z_equals_g_plus_3_with_g_equals_xy(x0, y0):
    # z = g + 3, g = xy:   ∂z/∂g = 1, ∂g/∂x = y, ∂g/∂y = x
    # ∂z/∂x = ∂z/∂g · ∂g/∂x = 1 × y = y,   ∂z/∂y = ∂z/∂g · ∂g/∂y = 1 × x = x
    x, y = Value(x0, "x"), Value(y0, "y")
    g = x * y
    z = g + 3
    z.backward()
    assert z.data == x0 * y0 + 3
    assert g.grad == 1.0
    assert x.grad == y0
    assert y.grad == x0


@pytest.mark.parametrize("x0, y0", POINTS)
def test_f_equals_g_plus_3_with_g_equals_x_plus_y(x0, y0):
    # f = g + 3, g = x + y:   ∂f/∂x = 1 · 1 = 1,   ∂f/∂y = 1 · 1 = 1
    x, y = Value(x0), Value(y0)
    f = (x + y) + 3
    f.backward()
    assert f.data == x0 + y0 + 3
    assert (x.grad, y.grad) == (1.0, 1.0)


@pytest.mark.parametrize("x0, y0", POINTS)
def test_f_equals_2g_with_g_equals_x_minus_y(x0, y0):
    # f = 2g, g = x − y:   ∂f/∂x = 2 · 1 = 2,   ∂f/∂y = 2 · (−1) = −2
    x, y = Value(x0), Value(y0)
    g = x - y
    f = 2 * g
    f.backward()
    assert f.data == 2 * (x0 - y0)
    assert g.grad == 2.0
    assert (x.grad, y.grad) == (2.0, -2.0)


@pytest.mark.parametrize("x0, y0", POINTS)
def test_f_equals_g_minus_3_with_g_equals_xy(x0, y0):
    # f = g − 3, g = xy:   ∂f/∂x = 1 · y = y,   ∂f/∂y = 1 · x = x
    x, y = Value(x0), Value(y0)
    f = x * y - 3
    f.backward()
    assert f.data == x0 * y0 - 3
    assert (x.grad, y.grad) == (y0, x0)


# ------------------------------------------------------------------ 002: the exercises


@pytest.mark.parametrize("w0, x0, b0", [(2.0, 3.0, 1.0), (-0.5, -4.0, 10.0), (1.5, 0.0, -2.0)])
def test_exercise_3_f_equals_g_plus_b_with_g_equals_w_x_squared(w0, x0, b0):
    # 연습문제 3: f = g + b, g = wx²; express ∂L/∂w, ∂L/∂x, ∂L/∂b with ∂L/∂f:
    #   ∂L/∂w = ∂L/∂f · x²,   ∂L/∂x = ∂L/∂f · 2wx,   ∂L/∂b = ∂L/∂f
    # The loss after f is L = f² here, so the upstream gradient ∂L/∂f = 2f.
    w, x, b = Value(w0, "w"), Value(x0, "x"), Value(b0, "b")
    g = w * x**2
    f = g + b
    L = f**2
    L.backward()

    dL_df = 2 * (w0 * x0**2 + b0)
    assert f.grad == dL_df  # interior nodes show this pass's gradient
    assert g.grad == dL_df  # ∂f/∂g = 1
    assert w.grad == pytest.approx(dL_df * x0**2, rel=1e-15)
    assert x.grad == pytest.approx(dL_df * 2 * w0 * x0, rel=1e-15)
    assert b.grad == dL_df


@pytest.mark.parametrize("x0", [3.0, 0.25, 0.0, -0.0, -2.0])
@pytest.mark.parametrize("upstream", [1.0, -3.0])
def test_exercise_2_relu_gate(x0, upstream):
    # 연습문제 2: f = ReLU(x) = x (x > 0), 0 (x ≤ 0)
    #   ∂L/∂x = ∂L/∂f (x > 0),  0 (x ≤ 0)   — so at x = 0 the gradient is 0 (as torch.relu).
    x = Value(x0, "x")
    f = x.relu()
    L = upstream * f  # a loss whose ∂L/∂f is `upstream`
    L.backward()
    assert f.data == max(x0, 0.0)
    assert f.grad == upstream
    assert x.grad == (upstream if x0 > 0 else 0.0)


# ------------------------------------------------------------------ 003: the sigmoid neuron

# f(w, x) = 1 / (1 + e^-(w0·x0 + w1·x1 + w2)) at w0 = 2, x0 = -1, w1 = -3, x1 = -2, w2 = -3.
# The weighted sum is 2·(-1) + (-3)·(-2) + (-3) = 1, so f = σ(1) ≈ 0.73 and every gradient
# is σ'(1) = σ(1)(1 − σ(1)) ≈ 0.20 times the other factor of its product.
NEURON = dict(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
S1 = sigma(1.0)
DS1 = S1 * (1.0 - S1)  # (참고) sigmoid 함수의 미분: σ(x)' = σ(x)(1 − σ(x))
EXPECTED = dict(w0=-1.0 * DS1, x0=2.0 * DS1, w1=-2.0 * DS1, x1=-3.0 * DS1, w2=DS1)
ON_THE_SLIDE = dict(w0=-0.20, x0=0.39, w1=-0.39, x1=-0.59, w2=0.20)


def _neuron_inputs():
    return {name: Value(v, name) for name, v in NEURON.items()}


def _weighted_sum(v):
    return v["w0"] * v["x0"] + v["w1"] * v["x1"] + v["w2"]


def test_sigmoid_neuron_composed_gates_as_on_the_slide():
    # The slide's graph: *, +, ·(-1), exp, +1, 1/x — each gate with its local derivative:
    #   f(x) = eˣ → eˣ,   f(x) = 1/x → −1/x²,   f_a(x) = ax → a,   f_c(x) = c + x → 1
    v = _neuron_inputs()
    s = _weighted_sum(v)
    e = (s * -1).exp()
    d = e + 1
    f = 1 / d
    assert f.op == "1/x"
    f.backward()

    assert s.data == 1.0
    assert e.data == pytest.approx(math.exp(-1.0), rel=1e-15)  # ≈ 0.37
    assert d.data == pytest.approx(1.0 + math.exp(-1.0), rel=1e-15)  # ≈ 1.37
    assert f.data == pytest.approx(S1, rel=1e-15)  # ≈ 0.73
    assert d.grad == pytest.approx(-1.0 / d.data**2, rel=1e-15)  # ≈ -0.53
    assert e.grad == d.grad  # +1 gate passes the gradient through
    assert s.grad == pytest.approx(DS1, rel=1e-14)  # ≈ 0.20
    for name, expected in EXPECTED.items():
        assert v[name].grad == pytest.approx(expected, rel=1e-14), name
        assert round(v[name].grad, 2) == ON_THE_SLIDE[name], name


def test_sigmoid_neuron_fused_gate_gives_the_same_gradients():
    # ∂L/∂y · y²·exp(−x) = ∂L/∂y · y(1 − y): the sigmoid gate as one node.
    v = _neuron_inputs()
    s = _weighted_sum(v)
    f = s.sigmoid()
    assert f.op == "sigmoid" and f.parents == (s,)
    f.backward()

    assert f.data == pytest.approx(S1, rel=1e-15)
    assert s.grad == pytest.approx(DS1, rel=1e-15)
    for name, expected in EXPECTED.items():
        assert v[name].grad == pytest.approx(expected, rel=1e-14), name
        assert round(v[name].grad, 2) == ON_THE_SLIDE[name], name


# ------------------------------------------------------------------ 000: sigmoid + cross-entropy


def _binary_cross_entropy(z, t: float):
    # L = −[t ln z + (1 − t) ln(1 − z)]
    return -(t * z.log() + (1 - t) * (1 - z).log())


@pytest.mark.parametrize("t", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("y0", [-3.0, -0.5, 0.0, 0.8, 4.0])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composed"])
def test_sigmoid_plus_cross_entropy_gives_z_minus_t(t, y0, fused):
    # L = Loss(sigmoid(y)),  z = sigmoid(y)
    # ∂L/∂y = ∂L/∂z · ∂z/∂y = ① · ② = (z − t)/(z(1 − z)) · (1 − z)z = z − t
    y = Value(y0, "y")
    z = y.sigmoid() if fused else 1 / (1 + (-y).exp())
    L = _binary_cross_entropy(z, t)
    L.backward()

    zd = sigma(y0)
    assert z.data == pytest.approx(zd, rel=1e-15)
    assert z.grad == pytest.approx((zd - t) / (zd * (1 - zd)), rel=1e-12)  # ①
    assert y.grad == pytest.approx(zd - t, rel=1e-12, abs=1e-15)  # ① · ② = z − t


def test_output_neuron_weight_gradient_is_error_times_hidden_output():
    # y_o1 = w1·z_h1 + w2·z_h2 + w3·z_h3,  z_o1 = sigmoid(y_o1),  L = cross-entropy with target t1
    # ∂L/∂w1 = ∂L/∂z_o1 · ∂z_o1/∂y_o1 · ∂y_o1/∂w1 = (z_o1 − t1) · z_h1
    x1, x2 = Value(0.5, "x1"), Value(-1.2, "x2")
    hidden_weights = [(0.1, -0.4), (0.7, 0.2), (-0.3, 0.9)]
    z_h = [(Value(a, f"wh{i}a") * x1 + Value(b, f"wh{i}b") * x2).sigmoid() for i, (a, b) in enumerate(hidden_weights)]
    w = [Value(0.4, "w1"), Value(-0.6, "w2"), Value(0.25, "w3")]
    y_o1 = w[0] * z_h[0] + w[1] * z_h[1] + w[2] * z_h[2]
    z_o1 = y_o1.sigmoid()
    t1 = 1.0
    L = _binary_cross_entropy(z_o1, t1)
    L.backward()

    for wi, zi in zip(w, z_h):
        assert wi.grad == pytest.approx((z_o1.data - t1) * zi.data, rel=1e-12)
    # one layer further back: ∂L/∂z_h1 = (z_o1 − t1) · w1, then through the hidden sigmoid
    for wi, zi in zip(w, z_h):
        assert zi.grad == pytest.approx((z_o1.data - t1) * wi.data, rel=1e-12)
    # and grad() gives the same numbers without touching .grad
    before = [wi.grad for wi in w]
    assert [g.data for g in grad(L, w)] == pytest.approx(before, rel=1e-15)
    assert [wi.grad for wi in w] == before
