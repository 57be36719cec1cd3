"""Bad input gets a clear error naming the operation and what was given — never a
silent nan or inf — and a refused call changes nothing the user had."""

import math
import re

import pytest

import scalargrad.engine.primitives as P
from scalargrad import NonFiniteError, Primitive, Value, apply, enable_grad, grad, gradcheck, no_grad

# ------------------------------------------------------------------ Value(data)


@pytest.mark.parametrize(
    "given, shown",
    [("a", "str 'a'"), (None, "NoneType None"), (1j, "complex 1j"), ([1], "list [1]"), (True, "bool True"), ((2.0,), "tuple")],
)
def test_non_numbers_are_a_type_error_naming_what_was_given(given, shown):
    with pytest.raises(TypeError, match=re.escape(shown)):
        Value(given)


def test_a_value_is_not_data_for_a_new_value():
    with pytest.raises(TypeError, match=r"Value 'w' \(data=2.0\).*detach"):
        Value(Value(2.0, "w"))


@pytest.mark.parametrize("given", [math.nan, math.inf, -math.inf, float("nan")])
def test_nan_and_infinity_are_a_value_error_naming_what_was_given(given):
    with pytest.raises(ValueError, match=re.escape(repr(given))):
        Value(given)


def test_numpy_nan_and_complex_are_refused():
    np = pytest.importorskip("numpy")
    with pytest.raises(ValueError, match="nan"):
        Value(np.float64("nan"))
    with pytest.raises(TypeError, match="complex"):
        Value(np.complex128(1.0))


def test_label_must_be_a_string():
    with pytest.raises(TypeError, match="label must be a str, got int 3"):
        Value(1.0, label=3)
    # The second positional argument is a label or micrograd's _children; the message names both.
    with pytest.raises(TypeError, match=r"a label \(a str\) or micrograd's _children .* got int 3"):
        Value(1.0, 3)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_or_inf_mixed_into_an_expression_is_refused(bad):
    a = Value(1.0)
    for make in (lambda: a + bad, lambda: bad * a, lambda: a - bad, lambda: a / bad, lambda: a.max(bad), lambda: a**bad):
        with pytest.raises(ValueError, match=re.escape(repr(bad))):
            make()


@pytest.mark.parametrize("bad", ["2", None, [1.0], True, 1j])
def test_non_numbers_mixed_into_an_expression_are_a_type_error(bad):
    a = Value(1.0)
    for make in (lambda: a + bad, lambda: bad + a, lambda: a * bad, lambda: bad * a, lambda: a - bad, lambda: a / bad, lambda: bad / a):
        with pytest.raises(TypeError):
            make()
    with pytest.raises(TypeError, match=re.escape(f"{type(bad).__name__} {bad!r}")):
        a.max(bad)
    with pytest.raises(TypeError, match=re.escape(type(bad).__name__)):
        a**bad


@pytest.mark.parametrize("base", [0.0, -2.0, -0.5])
def test_a_value_exponent_needs_a_positive_base_even_where_no_gradient_is_recorded(base):
    a, b = Value(base, "a"), Value(2.0, "b")
    for context in (enable_grad, no_grad):
        with context(), pytest.raises(NonFiniteError, match=r"exp\(b·ln a\), which needs a > 0 .*Value 'a' \(data=.*'b'"):
            a**b


@pytest.mark.parametrize("base", [0, -2, -0.5])
def test_number_to_a_value_needs_a_positive_base(base):
    with pytest.raises(ValueError, match=f"positive base, got {base}"):
        base ** Value(1.0)


# ------------------------------------------------------------------ operations outside their domain


def _assert_names(error, *parts):
    message = str(error.value)
    for part in parts:
        assert part in message, (part, message)


def test_reciprocal_of_zero_is_refused():
    for make in (lambda x: 1 / x, lambda x: x.reciprocal(), lambda x: 3.0 / x, lambda x: Value(3.0) / x, lambda x: x**-1):
        for zero in (0.0, -0.0):
            with pytest.raises(NonFiniteError) as error:
                make(Value(zero, "denominator"))
            _assert_names(error, "'denominator'", "0.0", "needs x ≠ 0")
    with pytest.raises(NonFiniteError) as error:
        Value(0.0, "d").reciprocal()
    _assert_names(error, "1/x", "1.0 / 0.0", "'d'", "data=0.0")


@pytest.mark.parametrize("make", [lambda x: x.reciprocal(), lambda x: 1 / x, lambda x: x**-1])
def test_a_reciprocal_that_overflows_is_refused_not_inf(make):
    # 1/1e-310 is inf in plain Python, without an error; the engine refuses it
    with pytest.raises(NonFiniteError) as error:
        make(Value(1e-310, "tiny"))
    _assert_names(error, "1e-310", "'tiny'")


def test_a_power_that_overflows_names_the_operation():
    with pytest.raises(NonFiniteError) as error:
        Value(1e-103, "small") ** -2
    _assert_names(error, "**-2", "1e-103", "'small'")
    assert "Numerical result out of range" not in str(error.value)


@pytest.mark.parametrize("x0", [0.0, -1.0, -1e-300])
def test_log_of_a_non_positive_number_is_refused(x0):
    with pytest.raises(NonFiniteError) as error:
        Value(x0, "p").log()
    _assert_names(error, "log", repr(x0), "'p'", "log needs x > 0")


def test_exp_overflow_is_refused():
    with pytest.raises(NonFiniteError) as error:
        Value(1000.0, "big").exp()
    _assert_names(error, "exp", "exp(1000.0)", "'big'")
    with pytest.raises(NonFiniteError):
        2 ** Value(2000.0)


def test_the_engine_error_is_a_floating_point_error():
    assert issubclass(NonFiniteError, FloatingPointError) and issubclass(NonFiniteError, ArithmeticError)


@pytest.mark.parametrize("x0, c", [(-8.0, 0.5), (-1.0, 1.5), (-2.0, -0.5), (-1e-9, 0.25)])
def test_power_that_is_not_real_is_refused(x0, c):
    with pytest.raises(NonFiniteError) as error:
        Value(x0, "base") ** c
    _assert_names(error, f"**{c}", repr(x0), "not a finite real number", "'base'")


def test_power_overflow_is_refused():
    with pytest.raises(NonFiniteError) as error:
        Value(1e300, "huge") ** 2
    _assert_names(error, "**2", "1e+300", "'huge'")


def test_multiply_and_add_overflow_are_refused():
    with pytest.raises(NonFiniteError) as error:
        Value(1e200, "m") * Value(1e200)
    _assert_names(error, "*", "1e+200 * 1e+200", "'m'")
    with pytest.raises(NonFiniteError) as error:
        Value(1.7e308) + Value(1.7e308, "s")
    _assert_names(error, "+", "1.7e+308", "'s'")
    with pytest.raises(NonFiniteError):
        Value(-1.7e308) - Value(1.7e308)
    with pytest.raises(NonFiniteError):
        Value(1e300) / Value(1e-300)


def test_errors_are_raised_the_same_way_under_no_grad():
    with no_grad():
        with pytest.raises(NonFiniteError):
            1 / Value(0.0)
        with pytest.raises(NonFiniteError):
            Value(-1.0).log()
        with pytest.raises(NonFiniteError):
            Value(800.0).exp()


def test_a_refused_operation_leaves_its_inputs_as_they_were():
    x = Value(-4.0, "x")
    x.grad = 0.25
    with pytest.raises(NonFiniteError):
        x.log()
    assert (x.data, x.grad, x.label, x.is_leaf) == (-4.0, 0.25, "x", True)


# ------------------------------------------------------------------ backward with an infinite gradient


def test_an_infinite_local_derivative_is_refused_when_the_node_is_made():
    # d/dx x^0.5 = 0.5 / √x is infinite at x = 0: the '**0.5' node is refused while recording
    x = Value(0.0, "x")
    x.grad = 0.5
    with pytest.raises(NonFiniteError) as error:
        x**0.5
    _assert_names(error, "**0.5", "local derivative", "inf", "'x'", "needs x > 0")
    assert (x.data, x.grad) == (0.0, 0.5)
    with no_grad():  # no derivative is recorded, so the value itself is fine
        assert (x**0.5).data == 0.0


def test_a_local_derivative_that_overflows_is_refused():
    # forward is fine (1/1e-200 = 1e200), but the local derivative −1/x² = −1e400 is not a float
    with pytest.raises(NonFiniteError) as error:
        Value(1e-200, "tiny").reciprocal()
    _assert_names(error, "1/x", "local derivative", "-inf", "'tiny'")
    with no_grad():
        assert Value(1e-200).reciprocal().data == pytest.approx(1e200)


def test_gradients_that_add_up_to_overflow_are_refused():
    a = Value(1.0, "a")
    out = a * 1e308 + (a - 1) * 1e308  # finite (1e308 + 0), but ∂out/∂a = 1e308 + 1e308 = inf
    assert out.data == 1e308
    out.grad = 5.0
    with pytest.raises(NonFiniteError, match="'a'.*no .grad was changed"):
        out.backward()
    assert a.grad == 0.0 and out.grad == 5.0
    with pytest.raises(NonFiniteError, match="'a'"):
        grad(out, [a])


def test_leaf_accumulation_overflow_is_refused():
    a = Value(1.0, "acc")
    out = a * 1e308
    out.backward()
    assert a.grad == 1e308
    with pytest.raises(NonFiniteError, match="'acc'.*would be inf"):
        out.backward()
    assert a.grad == 1e308 and out.grad == 1.0


# ------------------------------------------------------------------ grad() with bad arguments


def test_grad_refuses_bad_arguments():
    x = Value(1.0)
    y = x * 2
    with pytest.raises(TypeError, match="output must be a Value, got float 3.0"):
        grad(3.0, [x])
    with pytest.raises(TypeError, match="must be ordered.*got a set"):
        grad(y, {x})
    with pytest.raises(TypeError, match="must be ordered.*got a set"):
        grad(y, frozenset([x]))
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Value, got float 1.0"):
        grad(y, [x, 1.0])
    with pytest.raises(TypeError, match="must be a Value or a sequence of Values, got int"):
        grad(y, 5)
    with pytest.raises(TypeError, match="must be a Value or a sequence of Values, got NoneType"):
        grad(y, None)
    assert x.grad == 0.0 and y.grad == 0.0


def test_grad_accepts_one_value_a_tuple_or_a_generator():
    x, z = Value(3.0), Value(1.0)
    y = x * x
    assert [g.data for g in grad(y, x)] == [6.0]
    assert [g.data for g in grad(y, (x, z))] == [6.0, 0.0]
    assert [g.data for g in grad(y, (v for v in [z, x]))] == [0.0, 6.0]
    assert grad(y, []) == ()


# ------------------------------------------------------------------ gradcheck's failure report


WRONG_SIGMOID = Primitive("sigmoid", ("x",), "sigmoid(x)", ("out",))  # deliberately wrong: σ′ = σ (not registered)


def test_gradcheck_failure_names_the_input_and_both_numbers(monkeypatch):
    monkeypatch.setattr(P, "SIGMOID", WRONG_SIGMOID)

    def f(x, y):
        return x.sigmoid() + 3 * y

    x, y = Value(0.5, "x"), Value(-1.0, "y")
    with pytest.raises(AssertionError) as error:
        gradcheck(f, [x, y])
    message = str(error.value)
    s = 1 / (1 + math.exp(-0.5))
    engine, numerical = map(float, re.search(r"engine gradient (\S+), numerical gradient (\S+)", message).groups())
    assert "input 0 'x' at 0.5" in message
    assert engine == pytest.approx(s, rel=1e-15)  # what the wrong rule gives
    assert numerical == pytest.approx(s * (1 - s), rel=1e-6)  # what it should be
    assert "input 1" not in message and "'y'" not in message  # y's gradient is right
    assert x.grad == 0.0 and y.grad == 0.0


def test_gradcheck_failure_lists_every_wrong_input():
    wrong_square = Primitive("sq", ("x",), "x * x", ("x",))  # deliberately wrong: d/dx x² = x

    def f(a, b, c):
        return apply(wrong_square, a) + apply(wrong_square, b) + c

    with pytest.raises(AssertionError) as error:
        gradcheck(f, [1.5, -2.0, 4.0])
    lines = str(error.value).splitlines()
    assert lines[0] == "gradcheck failed:" and len(lines) == 3  # input 2 (c) is right
    for line, (x0, engine, numerical) in zip(lines[1:], [(1.5, 1.5, 3.0), (-2.0, -2.0, -4.0)]):
        found = re.fullmatch(r"\s*input (\d) at (\S+): engine gradient (\S+), numerical gradient (\S+)", line)
        assert found, line
        i, at, e, n = found.groups()
        assert float(at) == x0 and float(e) == engine
        assert float(n) == pytest.approx(numerical, rel=1e-6)


def test_gradcheck_tolerances_decide():
    slightly_wrong = Primitive("sq", ("x",), "x * x", ("2 * x * (1 + 1e-4)",))
    f = lambda a: apply(slightly_wrong, a)  # noqa: E731
    assert gradcheck(f, [2.0])  # rtol=1e-3 allows a relative error of 1e-4
    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(f, [2.0], rtol=1e-6, atol=1e-9)


def test_gradcheck_refuses_a_function_that_does_not_return_a_value():
    with pytest.raises(TypeError, match="f must return a Value, it returned float 3.0"):
        gradcheck(lambda x: 3.0, [1.0])
