"""Optimizer steps against numbers worked out on paper with PyTorch's update rules.

Every test: one parameter x = 1.0, gradient 0.5 at step 1 and -0.25 at step 2.
"""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nn import MLP, SGD, Adagrad, Adam, AdamW, RMSprop
from nn.rounding import fma
from scalargrad import NonFiniteError, Value


def run(make, grads=(0.5, -0.25)):
    x = Value(1.0)
    opt = make([x])
    seen = []
    for g in grads:
        x.grad = g
        opt.step()
        seen.append(x.data)
    return seen


def test_sgd_plain_and_weight_decay():
    # x ← x − lr·g: 1 − 0.1·0.5 = 0.95; 0.95 + 0.1·0.25 = 0.975
    assert run(lambda p: SGD(p, lr=0.1)) == pytest.approx([0.95, 0.975], rel=1e-15)
    # g ← g + λx = 0.5 + 0.1·1 = 0.6 → 0.94; then g = −0.25 + 0.094 = −0.156 → 0.9556
    assert run(lambda p: SGD(p, lr=0.1, weight_decay=0.1)) == pytest.approx([0.94, 0.9556], rel=1e-14)


def test_sgd_momentum_and_nesterov():
    # b = 0.5 → x = 0.95; b = 0.9·0.5 − 0.25 = 0.2 → x = 0.95 − 0.02 = 0.93
    assert run(lambda p: SGD(p, lr=0.1, momentum=0.9)) == pytest.approx([0.95, 0.93], rel=1e-14)
    # Nesterov: b = 0.5, g = 0.5 + 0.9·0.5 = 0.95 → 0.905; b = 0.2, g = −0.25 + 0.18 = −0.07 → 0.912
    assert run(lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True)) == pytest.approx([0.905, 0.912], rel=1e-14)
    # dampening 0.5: b = 0.5 (first step undamped) → 0.95; b = 0.45 − 0.125 = 0.325 → 0.9175
    assert run(lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.5)) == pytest.approx([0.95, 0.9175], rel=1e-14)


def test_adagrad():
    # s = 0.25, x = 1 − 0.1·0.5/0.5 = 0.9; s = 0.3125, x = 0.9 + 0.1·0.25/√0.3125 = 0.9 + 0.0447214 = 0.9447214
    assert run(lambda p: Adagrad(p, lr=0.1)) == pytest.approx([0.9, 0.9447214], rel=1e-7)
    # lr_decay 1: step 2 uses lr/(1 + 1) = 0.05 → 0.9 + 0.0223607
    assert run(lambda p: Adagrad(p, lr=0.1, lr_decay=1.0)) == pytest.approx([0.9, 0.9223607], rel=1e-7)


def test_rmsprop():
    # v = 0.01·0.25 = 0.0025, x = 1 − 0.01·0.5/0.05 = 0.9
    # v = 0.99·0.0025 + 0.01·0.0625 = 0.0031, x = 0.9 + 0.01·0.25/0.0556776 = 0.9449013
    assert run(lambda p: RMSprop(p, lr=0.01)) == pytest.approx([0.9, 0.9449013], rel=1e-7)
    # momentum 0.9: b = 10 → 0.9; b = 9 − 4.490133 = 4.509867 → 0.9 − 0.0450987 = 0.8549013
    assert run(lambda p: RMSprop(p, lr=0.01, momentum=0.9)) == pytest.approx([0.9, 0.8549013], rel=1e-7)
    # centred: ḡ = 0.005, d = √(0.0025 − 0.000025) = 0.0497494, x = 1 − 0.01·0.5/0.0497494 = 0.8994962
    assert run(lambda p: RMSprop(p, lr=0.01, centered=True), grads=(0.5,)) == pytest.approx([0.8994962], rel=1e-7)


def test_adam():
    # step 1: m̂ = 0.5, v̂ = 0.25 → x = 1 − 0.1·0.5/0.5 = 0.9
    # step 2: m = 0.045 − 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
    #         m̂ = 0.02/0.19 = 0.1052632, √v̂ = √(0.00031225/0.001999) = 0.3952254 → x = 0.9 − 0.0266337 = 0.8733663
    assert run(lambda p: Adam(p, lr=0.1)) == pytest.approx([0.9, 0.8733663], rel=1e-7)
    # L2 in the gradient: g = 0.6 still gives a first step of lr (m̂/√v̂ = 1): 0.9
    assert run(lambda p: Adam(p, lr=0.1, weight_decay=0.1), grads=(0.5,)) == pytest.approx([0.9], rel=1e-7)


def test_adamw_decays_the_weight_before_the_adam_step():
    # x = 1·(1 − 0.1·0.1) = 0.99, then − 0.1 → 0.89
    assert run(lambda p: AdamW(p, lr=0.1, weight_decay=0.1), grads=(0.5,)) == pytest.approx([0.89], rel=1e-7)


def test_zero_grad_and_module_params():
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(model, lr=0.1)
    assert opt.params == model.parameters()
    model([1.0, 2.0]).backward()
    assert any(p.grad for p in model.parameters())
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: SGD({Value(1.0)}, lr=0.1), TypeError, "got a set"),
        (lambda: SGD([], lr=0.1), ValueError, "optimizer params is an empty list"),
        (lambda: SGD([Value(1.0)], lr=-0.1), ValueError, "SGD lr must be a finite number >= 0, got -0.1"),
        (lambda: Adam([Value(1.0)], lr=math.nan), ValueError, "must be a finite number >= 0, got nan"),
        (lambda: Adam([Value(1.0)], lr="0.1"), TypeError, "Adam lr must be a real number, got str '0.1'"),
        (lambda: SGD([Value(1.0), 2.0], lr=0.1), TypeError, "params\\[1\\] must be a Value, got float"),
        (lambda: SGD(Value(1.0), lr=0.1), TypeError, "single Value"),
        (lambda: SGD([Value(1.0)] * 2, lr=0.1), ValueError, "params\\[1\\] appears more than once"),
        (lambda: SGD([Value(1.0)], lr=0.1, nesterov=True), ValueError, "nesterov needs momentum > 0"),
        (lambda: Adam([Value(1.0)], betas=(0.9, 1.0)), ValueError, r"Adam betas\[1\] must be a finite number >= 0, < 1, got 1.0"),
        (lambda: Adam([Value(1.0)], betas=0.9), TypeError, "betas must be a pair"),
        (lambda: RMSprop([Value(1.0)], momentum=-1), ValueError, "momentum must be a finite number >= 0"),
        (lambda: RMSprop([Value(1.0)], alpha=1.0), ValueError, "alpha must be a finite number >= 0, < 1, got 1.0"),
        (lambda: SGD([Value(1.0)], lr=0.1, momentum=0.9, nesterov="no"), TypeError, "nesterov must be True or False, got str 'no'"),
        (lambda: RMSprop([Value(1.0)], centered=1), TypeError, "centered must be True or False, got int 1"),
        (lambda: Adagrad([Value(1.0)], eps=0.0), ValueError, "eps must be a finite number > 0, got 0.0"),
        (lambda: RMSprop([Value(1.0)], eps=0), ValueError, "eps must be a finite number > 0, got 0"),
        (lambda: Adam([Value(1.0)], eps=-1e-8), ValueError, "eps must be a finite number > 0"),
        (lambda: AdamW([Value(1.0)], eps=0.0), ValueError, "eps must be a finite number > 0"),
        (lambda: Adagrad([Value(1.0)], lr_decay=math.inf), ValueError, "lr_decay must be a finite number >= 0, got inf"),
    ],
)
def test_refusals(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_diverging_step_is_refused_and_changes_nothing():
    a, b = Value(1.0), Value(1e308)
    opt = SGD([a, b], lr=10.0, momentum=0.9)
    a.grad, b.grad = 1.0, -1e308
    with pytest.raises(NonFiniteError, match="SGD.step: parameter 1 would become inf"):
        opt.step()
    assert (a.data, b.data, opt.state, opt.steps) == (1.0, 1e308, [None, None], 0)


def snapshot(opt):
    return [(p.data, p.grad) for p in opt.params], list(opt.state), opt.steps


@pytest.mark.parametrize("make, what", [
    (lambda p: Adam(p, lr=0.1), "second moment v"),
    (lambda p: AdamW(p, lr=0.1), "second moment v"),
    (lambda p: RMSprop(p, lr=0.01), "square average"),
    (lambda p: RMSprop(p, lr=0.01, centered=True, momentum=0.9), "square average"),
    (lambda p: Adagrad(p, lr=0.1), "sum of squared gradients"),
])
def test_a_gradient_that_overflows_the_state_is_refused_and_changes_nothing(make, what):
    # g² = 1e400 is inf: PyTorch stores it and then moves the parameter by m/inf = 0, silently, forever.
    model = MLP(1, [1], seed=0)
    opt = make(model)
    for p in model.parameters():
        p.grad = 0.5
    opt.step()
    model.layers[0].neurons[0].b.grad = 1e200
    before = snapshot(opt)
    with pytest.raises(NonFiniteError) as refused:
        opt.step()
    assert str(refused.value).startswith(f"{type(opt).__name__}.step: the {what} of parameter 1 (layers.0.neurons.0.b) would become inf")
    assert "grad 1e+200" in str(refused.value) and "Nothing was changed" in str(refused.value)
    assert snapshot(opt) == before
    model.layers[0].neurons[0].b.grad = 0.5  # the optimizer goes on as if the refused step never happened
    opt.step()
    assert opt.steps == 2


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, momentum=0.9), lambda p: Adam(p, lr=0.1), lambda p: RMSprop(p, lr=0.1),
    lambda p: Adagrad(p, lr=0.1),
])
@pytest.mark.parametrize("grad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_gradient_is_refused(make, grad):
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    opt = make([a, b])
    a.grad, b.grad = 0.1, grad
    with pytest.raises(NonFiniteError, match=r"\.step: .*parameter 1 \(b\) would become"):
        opt.step()
    assert (a.data, b.data, opt.state, opt.steps) == (1.0, 2.0, [None, None], 0)


def test_a_zero_gradient_with_the_smallest_eps_is_a_zero_step():
    # eps = 0 is refused at construction (0/0); the smallest eps > 0 gives 0/eps = 0.
    for make in (lambda p: Adagrad(p, eps=5e-324), lambda p: RMSprop(p, eps=5e-324), lambda p: Adam(p, eps=5e-324)):
        x = Value(1.0)
        opt = make([x])
        x.grad = 0.0
        opt.step()
        assert x.data == 1.0


def test_centred_rmsprop_with_a_constant_gradient_clamps_the_rounding_residue_at_zero():
    # v − ḡ² is a variance; with g constant it is 0 in exact arithmetic, and rounding makes it
    # slightly negative at some steps (its square root was a math domain error after ~3,000 steps).
    x = Value(1.0)
    opt = RMSprop([x], lr=1e-9, centered=True)
    negative = 0
    for _ in range(3300):  # first negative at step 3226 (PyTorch's step is nan there)
        x.grad = 0.1
        opt.step()
        v, avg_g, _ = opt.state[0]
        negative += fma(-avg_g, avg_g, v) < 0.0
    assert negative > 0 and math.isfinite(x.data)


def test_the_fma_emulation_rounds_once():
    from fractions import Fraction

    from nn.rounding import _fma

    def exact(a, b, c):
        return float(Fraction(a) * Fraction(b) + Fraction(c))

    # 0.1·10 − 1 is 5.55e-17 exactly, which two roundings lose
    assert 0.1 * 10.0 - 1.0 == 0.0 and _fma(0.1, 10.0, -1.0) == exact(0.1, 10.0, -1.0) == 2.0**-54
    for a, b, c in [(1e300, 1e10, -1e308), (1e-300, 1e-20, 0.0), (5e-324, 0.5, 0.0), (1e308, 10.0, -1e308),
                    (0.0, 1.0, -0.0), (3.0, 1e-320, 1e-310), (1e200, 1e200, 1.0)]:
        expected = exact(a, b, c) if abs(Fraction(a) * Fraction(b) + Fraction(c)) < 2**1024 else math.inf
        assert _fma(a, b, c) == expected, (a, b, c)
    assert math.isnan(_fma(math.inf, 0.0, 1.0)) and _fma(math.inf, 2.0, 1.0) == math.inf


finite = st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=500, deadline=None)
@given(finite, finite, finite)
def test_the_fma_emulation_is_the_exactly_rounded_fused_multiply_add(a, b, c):
    from fractions import Fraction

    from nn.rounding import _fma

    exact = Fraction(a) * Fraction(b) + Fraction(c)
    try:
        expected = float(exact)
    except OverflowError:
        expected = math.inf if exact > 0 else -math.inf
    got = _fma(a, b, c)
    assert got == expected, (a, b, c)
    if hasattr(math, "fma"):  # Python 3.13+: the hardware's
        assert got == math.fma(a, b, c)


edge = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0**-1074, 2.0**-969, 2.0**-970, 2.0**995, 2.0**996, 1.7976931348623157e308,
                         1.0 + 2.0**-52, 0.1, 3.0, 2.0**-53, -(2.0**1023)])
number_ = finite | edge


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(number_, number_, number_), min_size=1, max_size=40), number_, st.booleans())
def test_the_array_fma_gives_the_scalar_fma_bit_for_bit(triples, scalar_a, a_is_scalar):
    """fma_arrays (an optimizer's step over many parameters) against the scalar fma, element by
    element, bits and signs of zero included: over the whole range of doubles, with a the
    learning rate (one number) or an array, near ties, underflow, overflow and zeros."""
    np = pytest.importorskip("numpy")
    from nn.rounding import _fma, fma_arrays

    a, b, c = (np.array(column) for column in zip(*triples))
    if a_is_scalar:
        a = scalar_a
    got = fma_arrays(a, b, c)
    expected = [_fma(float(x), float(y), float(z)) for x, y, z in zip(np.broadcast_to(a, b.shape), b, c)]
    assert [x.hex() for x in got.tolist()] == [x.hex() for x in expected]


def test_the_array_fma_is_exact_where_two_roundings_are_not():
    np = pytest.importorskip("numpy")
    from nn.rounding import fma_arrays

    got = fma_arrays(np.array([0.1, 1e300, 5e-324]), np.array([10.0, 1e10, 0.5]), np.array([-1.0, -1e308, 0.0]))
    assert got.tolist() == [2.0**-54, math.inf, 0.0] and (np.array([0.1]) * 10.0 - 1.0)[0] == 0.0


# ------------------------------------------------------------ parameter groups


def _two_groups():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(3.0, "c")
    return [a, b], [c]


def test_groups_fill_in_the_constructors_keywords_and_show_them_as_pytorch_does():
    first, second = _two_groups()
    opt = SGD([{"params": first, "weight_decay": 3.0}, {"params": second, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["params"] for g in opt.param_groups] == [first, second]
    assert [(g["lr"], g["weight_decay"], g["momentum"]) for g in opt.param_groups] == [(0.1, 3.0, 0.9), (0.5, 0.0, 0.9)]
    assert opt.params == [*first, *second] and opt.lr == 0.1
    assert repr(opt) == "SGD(3 parameters in 2 groups of 2, 1)"


def test_a_groups_learning_rate_changed_between_steps_is_used():
    first, second = _two_groups()
    opt = SGD([{"params": first}, {"params": second}], lr=0.1)
    for p in (*first, *second):
        p.grad = 1.0
    opt.step()
    opt.param_groups[1]["lr"] = 1.0
    opt.step()
    assert [p.data for p in (*first, *second)] == pytest.approx([0.8, 1.8, 1.9], rel=1e-15)


@pytest.mark.parametrize("groups, error, message", [
    (lambda f, s: [{"params": f}, {"params": [f[0], *s]}], ValueError, r"in param_groups\[0\] and param_groups\[1\]"),
    (lambda f, s: [{"params": f}, {"lr": 0.1}], ValueError, r"param_groups\[1\] has no 'params'"),
    (lambda f, s: [{"params": f, "learning_rate": 0.1}], ValueError, r"unknown option 'learning_rate'; SGD's options are lr"),
    (lambda f, s: [{"params": f, "lr": -1.0}], ValueError, r"SGD param_groups\[0\] lr must be a finite number >= 0, got -1.0"),
    (lambda f, s: [{"params": f, "nesterov": True}], ValueError, r"param_groups\[0\]: nesterov needs momentum > 0"),
    (lambda f, s: [{"params": f}, {"params": []}], ValueError, r"param_groups\[1\]\['params'\] is an empty list"),
    (lambda f, s: [{"params": [1.0]}], TypeError, r"param_groups\[0\]\['params'\]\[0\] must be a Value, got float 1.0"),
])
def test_bad_groups_are_refused_in_one_line(groups, error, message):
    first, second = _two_groups()
    with pytest.raises(error, match=message) as refused:
        SGD(groups(first, second), lr=0.1)
    assert "\n" not in str(refused.value)


def test_a_bad_option_set_between_steps_is_refused_and_changes_nothing():
    first, second = _two_groups()
    opt = Adam([{"params": first}, {"params": second}], lr=0.1)
    for p in (*first, *second):
        p.grad = 1.0
    opt.param_groups[1]["lr"] = "0.1"
    with pytest.raises(TypeError, match=r"Adam param_groups\[1\] lr must be a real number, got str '0.1'"):
        opt.step()
    assert [p.data for p in (*first, *second)] == [1.0, 2.0, 3.0] and opt.state == [None] * 3 and opt.steps == 0


def test_an_option_changed_after_a_step_is_checked_again():
    """The checked options are remembered between steps (a step's checks cost 5 µs), and any
    option set anew, or a list option changed in place, is checked again before the next step."""
    first, second = _two_groups()
    opt = Adam([{"params": first}, {"params": second}], lr=0.1)
    for p in (*first, *second):
        p.grad = 1.0
    opt.step()
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"Adam param_groups\[0\] lr must be"):
        opt.step()
    opt.param_groups[0]["lr"] = 0.1
    betas = opt.param_groups[1]["betas"] = [0.9, 0.999]
    opt.step()
    betas[1] = 1.5
    kept = [p.data for p in (*first, *second)], list(opt.state)
    with pytest.raises(ValueError, match=r"Adam param_groups\[1\] betas\[1\] must be"):
        opt.step()
    assert ([p.data for p in (*first, *second)], opt.state) == kept and opt.steps == 2


def test_adagrads_initial_accumulator_is_the_constructors_as_in_pytorch():
    first, _ = _two_groups()
    with pytest.raises(ValueError, match=r"sets 'initial_accumulator_value', which PyTorch takes from the constructor"):
        Adagrad([{"params": first, "initial_accumulator_value": 0.5}])


def test_state_dict_round_trips_through_json_per_group():
    import json

    first, second = _two_groups()
    opt = Adam([{"params": first, "betas": (0.5, 0.9)}, {"params": second, "lr": 0.01}], lr=0.1)
    for p in (*first, *second):
        p.grad = 0.5
    opt.step()
    saved = json.loads(json.dumps(opt.state_dict()))
    assert saved["param_groups"][0]["params"] == [0, 1] and saved["param_groups"][1]["params"] == [2]
    assert saved["param_groups"][0]["betas"] == [0.5, 0.9] and saved["steps"] == 1
    first2, second2 = _two_groups()
    again = Adam([{"params": first2}, {"params": second2}], lr=0.3)
    again.load_state_dict(saved)
    assert again.state == opt.state and again.steps == 1
    assert [g["lr"] for g in again.param_groups] == [0.1, 0.01] and again.param_groups[0]["betas"] == (0.5, 0.9)
    for p, q in zip((*first, *second), (*first2, *second2)):
        q.data = p.data  # the model's weights travel in its own file
        p.grad = q.grad = -1.0
    opt.step()
    again.step()
    assert [p.data for p in (*first, *second)] == [q.data for q in (*first2, *second2)]


@pytest.mark.parametrize("change, message", [
    (lambda d: d["param_groups"].pop(), r"the state has 1 parameter group\(s\), this optimizer 2"),
    (lambda d: d["param_groups"][0].update(lr=-2.0), r"param_groups\[0\] lr must be a finite number >= 0, got -2.0"),
    (lambda d: d["state"].update({"0": {"first moment m": float("nan"), "second moment v": 1.0}}), r"state\[0\] first moment m"),
    (lambda d: d["state"].update({"7": {"first moment m": 1.0, "second moment v": 1.0}}), r"state key must be a whole number from 0 to 2"),
])
def test_load_state_dict_refuses_what_does_not_fit_and_changes_nothing(change, message):
    first, second = _two_groups()
    opt = Adam([{"params": first}, {"params": second}], lr=0.1)
    saved = opt.state_dict()
    change(saved)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(saved)
    assert opt.state == [None] * 3 and [g["lr"] for g in opt.param_groups] == [0.1, 0.1]


def test_an_error_naming_a_long_list_shows_an_excerpt():
    weights = [Value(float(i)) for i in range(200)]
    with pytest.raises(TypeError) as refused:
        SGD([weights, "bias"], lr=0.1)  # PyTorch's groups typed without the dicts
    message = str(refused.value)
    assert len(message) < 200 and "must be a Value, got str 'bias'" in message
    with pytest.raises(TypeError) as refused:
        SGD([{"params": weights}, [Value(1.0)]], lr=0.1)
    assert len(str(refused.value)) < 250 and "characters)" in str(refused.value)


def test_momentum_turned_on_between_steps_starts_its_buffer_as_pytorch_does():
    """A schedule that turns SGD's momentum on after plain steps: the buffer starts from that
    step's gradient (PyTorch keeps no buffer for a step without momentum), for one parameter at a
    time and for a group stepped as arrays."""
    for size in (3, 100):
        params = [Value(1.0, f"w{i}") for i in range(size)]
        opt = SGD(params, lr=0.1)
        for p in params:
            p.grad = 1.0
        opt.step()
        opt.param_groups[0]["momentum"] = 0.5
        opt.step()  # buffer = the gradient 1.0: w = 0.9 - 0.1
        opt.step()  # buffer = 0.5 + 1.0: w = 0.8 - 0.15
        assert [p.data for p in params] == pytest.approx([0.65] * size) and opt.state[0] == (1.5,)
