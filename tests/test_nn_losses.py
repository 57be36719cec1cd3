"""Losses against values computed by hand, the lecture's softmax examples, and stability at ±1000."""

import math

import pytest

from nn import Linear, bce, bce_with_logits, cross_entropy, hinge, l1, l2_penalty, log_softmax, mse, softmax
from nn.losses import get
from scalargrad import Value


def lecture_layer(w, b):
    """A Linear layer holding the lecture's weights (w[out][in], as a = w z + b on the slides)."""
    layer = Linear(2, 2)
    for row, ws in zip(layer.weight, w):
        for p, x in zip(row, ws):
            p.data = x
    for p, x in zip(layer.bias, b):
        p.data = x
    return layer


def test_lecture_softmax_example_z_05_01():
    # Slides: z = [0.5, 0.1], w = [[0.2, 0.1], [0.3, 0.4]], b = [0.7, 0.2] -> a = [0.81, 0.39].
    a = lecture_layer([[0.2, 0.1], [0.3, 0.4]], [0.7, 0.2])([0.5, 0.1])
    assert [x.data for x in a] == pytest.approx([0.81, 0.39], abs=1e-15)
    # Exactly: softmax(a)[0] = 1/(1 + e^-(0.81-0.39)) = 1/(1 + e^-0.42) = 0.603483...
    # (the slide's "≈ [0.8, 0.2]" and "e^0.39 ≈ 0.48" are slips; e^0.39 = 1.4770).
    p = softmax(a)
    assert p[0].data == pytest.approx(1 / (1 + math.exp(-0.42)), rel=1e-14)
    assert p[0].data == pytest.approx(0.603483, abs=1e-6)
    assert p[0].data + p[1].data == pytest.approx(1.0, abs=1e-15)
    # Label "cat" = class 0. CE = -ln 0.603483 = ln(1 + e^-0.42) = 0.505037 (the slide's 0.096 is -log10 0.8).
    assert cross_entropy(a, 0).data == pytest.approx(0.505037, abs=1e-6)
    # MSE as on the slide, 1/2 Σ (p - t)^2, with the exact probabilities: (0.396517² + 0.396517²)/2.
    assert mse(p, [1.0, 0.0]).data == pytest.approx(0.396517**2, rel=1e-5)


def test_lecture_softmax_exercise_z_02_04():
    # Exercise 1: z = [0.2, 0.4], w = [[0.1, 0.9], [0.2, 0.2]], b = [0.1, 0.9] -> a = [0.48, 1.02].
    a = lecture_layer([[0.1, 0.9], [0.2, 0.2]], [0.1, 0.9])([0.2, 0.4])
    assert [x.data for x in a] == pytest.approx([0.48, 1.02], abs=1e-15)
    # softmax(a) = [1/(1 + e^0.54), ...] = [0.368188, 0.631812] (slide: ≈ [0.37, 0.63]).
    p = softmax(a)
    assert [x.data for x in p] == pytest.approx([0.368188, 0.631812], abs=1e-6)
    # CE with label class 0: -ln 0.368188 = ln(1 + e^0.54) = 0.999163. The slide's 0.4318 is -log10 0.37.
    ce = cross_entropy(a, 0)
    assert ce.data == pytest.approx(0.999163, abs=1e-6)
    assert ce.data / math.log(10) == pytest.approx(-math.log10(0.368188), rel=1e-5)
    # MSE on the slide: 1/2 {(0.37 - 1)² + 0.63²}; exactly 0.631812² = 0.399187.
    assert mse(p, [1, 0]).data == pytest.approx(0.399187, abs=1e-6)


def test_cross_entropy_gradient_is_softmax_minus_one_hot():
    zs = [Value(0.48), Value(1.02), Value(-0.3)]
    cross_entropy(zs, 1).backward()
    e = [math.exp(z.data) for z in zs]
    expected = [x / sum(e) - (1 if i == 1 else 0) for i, x in enumerate(e)]
    assert [z.grad for z in zs] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("score", [0.0, 5.0, -3.0])
def test_ten_uniform_classes_give_ln_10(score):
    assert cross_entropy([score] * 10, 7).data == pytest.approx(math.log(10), rel=1e-15)
    assert math.log(10) == pytest.approx(2.30, abs=0.01)


def test_stable_at_plus_minus_1000():
    assert cross_entropy([1000.0, -1000.0], 0).data == 0.0
    assert cross_entropy([1000.0, -1000.0], 1).data == 2000.0
    assert cross_entropy([-1000.0, -1000.0], 0).data == pytest.approx(math.log(2))
    assert [x.data for x in softmax([1000.0, -1000.0])] == [1.0, 0.0]
    assert [x.data for x in log_softmax([1000.0, 0.0])] == [0.0, -1000.0]
    zs = [Value(1000.0), Value(-1000.0)]
    cross_entropy(zs, 1).backward()
    assert [z.grad for z in zs] == [1.0, -1.0]
    for z, t, loss, grad in [(1000.0, 1, 0.0, 0.0), (1000.0, 0, 1000.0, 1.0), (-1000.0, 1, 1000.0, -1.0), (-1000.0, 0, 0.0, 0.0)]:
        v = Value(z)
        out = bce_with_logits(v, t)
        out.backward()
        assert (out.data, v.grad) == (loss, grad)


def test_bce_with_logits_matches_bce_of_sigmoid_and_its_gradient():
    for z, t in [(0.0, 1), (0.0, 0), (2.0, 1), (-1.5, 0), (0.3, 0.25)]:
        v = Value(z)
        loss = bce_with_logits(v, t)
        loss.backward()
        s = 1 / (1 + math.exp(-z))
        assert loss.data == pytest.approx(-(t * math.log(s) + (1 - t) * math.log(1 - s)), rel=1e-12)
        assert v.grad == pytest.approx(s - t, rel=1e-12, abs=1e-15)  # σ(z) − t, also at z = 0


def test_bce_hand_values_and_clamping():
    assert bce(0.8, 1).data == pytest.approx(-math.log(0.8))
    assert bce([0.8, 0.4], [1, 0]).data == pytest.approx((-math.log(0.8) - math.log(0.6)) / 2)
    assert bce(0.0, 1).data == pytest.approx(100.0)  # log clamped at -100, as PyTorch
    assert bce(1.0, 0).data == pytest.approx(100.0)
    assert bce(1.0, 1).data == 0.0


def test_mse_l1_hinge_l2_by_hand():
    p = [Value(1.0), Value(2.0)]
    loss = mse(p, [0.0, 0.0])
    loss.backward()
    assert loss.data == 2.5 and [x.grad for x in p] == [1.0, 2.0]  # 2(p - t)/n
    q = [Value(3.0), Value(-1.0), Value(0.5)]
    loss = l1(q, [1.0, 0.0, 0.5])
    loss.backward()
    assert loss.data == pytest.approx(1.0) and [x.grad for x in q] == pytest.approx([1 / 3, -1 / 3, 0.0])
    assert hinge([0.5, -2.0], [1, 1]).data == pytest.approx((0.5 + 3.0) / 2)
    assert hinge([0.5, -2.0], [-1, -1]).data == pytest.approx(1.5 / 2)
    assert l2_penalty([Value(1.0), Value(-2.0)], alpha=0.1).data == pytest.approx(0.5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mse([1.0, 2.0], [1.0]), "2 predictions but 1 targets"),
        (lambda: mse([], []), "no predictions"),
        (lambda: l1([1.0], [1.0, 2.0, 3.0]), "1 predictions but 3 targets"),
        (lambda: bce(1.2, 1), "probability in \\[0, 1\\], got 1.2"),
        (lambda: bce(0.5, 2), "target 0 must be in \\[0, 1\\], got 2"),
        (lambda: bce_with_logits([0.0, 1.0], [1]), "2 predictions but 1 targets"),
        (lambda: cross_entropy([0.1, 0.2, 0.3], 3), "target 3 is out of range for 3 classes"),
        (lambda: cross_entropy([0.1, 0.2], -1), "target -1 is out of range"),
        (lambda: cross_entropy([], 0), "non-empty list"),
        (lambda: hinge([1.0], [0]), "must be -1 or \\+1, got 0"),
        (lambda: l2_penalty([]), "no parameters"),
        (lambda: get("huber"), "unknown loss 'huber'; known losses: mse, l1"),
    ],
)
def test_refusals_name_the_mismatch(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_cross_entropy_target_must_be_an_index():
    with pytest.raises(TypeError, match="class index"):
        cross_entropy([0.1, 0.2], 1.0)
    with pytest.raises(TypeError, match="class index"):
        cross_entropy([0.1, 0.2], True)
    with pytest.raises(ValueError, match="mse target 0 must be a finite number, got nan"):
        mse([1.0], [float("nan")])
