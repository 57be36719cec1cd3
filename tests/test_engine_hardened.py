"""The engine attacked where the newest features meet a user's code: primitives whose names
or rules clash with the generated code, comparisons and ``where`` in every mode, the error
kinds Python's own numbers raise, and compiled programs with hostile parameters."""

from __future__ import annotations

import gc
import linecache
import math
import pickle

import numpy as np
import pytest

import scalargrad as sg
from scalargrad import DivisionByZero, DomainError, NonFiniteError, Overflow, Value, apply, grad, primitive

# ------------------------------------------------------------ error kinds (decimal's manner)


@pytest.mark.parametrize(
    "make, kind, python",
    [
        (lambda: 1 / Value(0.0), DivisionByZero, ZeroDivisionError),
        (lambda: Value(0.0) ** -1, DivisionByZero, ZeroDivisionError),
        (lambda: Value(0.0) ** 0.5, DivisionByZero, ZeroDivisionError),  # √x's slope at 0 is 1/0
        (lambda: Value(-1.0).log(), DomainError, ValueError),
        (lambda: Value(0.0).log(), DomainError, ValueError),
        (lambda: Value(-8.0) ** 0.5, DomainError, ValueError),
        (lambda: Value(-2.0) ** Value(2.0), DomainError, ValueError),
        (lambda: Value(1000.0).exp(), Overflow, OverflowError),
        (lambda: Value(1e308) * 10.0, Overflow, OverflowError),
        (lambda: Value(1e308) + 1e308, Overflow, OverflowError),
    ],
)
def test_each_refusal_is_also_pythons_own_error(make, kind, python):
    with pytest.raises(kind) as caught:
        make()
    assert isinstance(caught.value, NonFiniteError) and isinstance(caught.value, python)
    assert isinstance(caught.value, FloatingPointError)


def test_python_handlers_written_for_floats_still_fire():
    def safe_inverse(x):
        try:
            return 1 / x
        except ZeroDivisionError:
            return None

    assert safe_inverse(0.0) is None and safe_inverse(Value(0.0)) is None


def test_a_gradient_that_overflows_is_an_overflow():
    z = Value(1e-300, "z")
    out = (z * 1e300) * Value(1e300)  # 1e300, finite; ∂out/∂z = 1e300 · 1e300 overflows
    with pytest.raises(Overflow, match="backpropagation: the gradient of the node 'z'"):
        out.backward()
    assert z.grad == 0.0


def test_a_closure_that_leaves_nan_is_named_not_called_an_overflow():
    a = Value(2.0, "a")
    out = Value(a.data * 3, (a,), "triple", label="t")

    def step():
        a.grad += math.nan

    out._backward = step
    with pytest.raises(NonFiniteError) as caught:
        out.backward()
    assert type(caught.value) is NonFiniteError  # not an Overflow: nothing overflowed
    assert "_backward closure of the node 't' passed back nan" in str(caught.value)
    assert a.grad == 0.0


def test_a_gradient_that_was_already_inf_is_named():
    a = Value(2.0, "a")
    a.grad = math.inf
    with pytest.raises(NonFiniteError, match=r"already inf before this pass"):
        (a * 3.0).backward()


# ------------------------------------------------------------ own primitives: names


@pytest.mark.parametrize("name", ["recording", "prim", "node", "new", "context", "Value", "refuse", "operand",
                                  "in0", "node0", "data", "da", "db", "error"])
def test_an_input_named_like_the_generated_code_gives_the_right_numbers(name):
    op = primitive(f"cube_{name}", (name,), f"{name} * {name} * {name}", (f"3.0 * {name} * {name}",))
    x = Value(2.0)
    y = apply(op, x)
    assert y.data == 8.0 and y.primitive is op
    y.backward()
    assert x.grad == 12.0
    (dx,) = grad(y, [x], create_graph=True)
    assert dx.data == 12.0
    (d2,) = grad(dx, [x])
    assert d2.data == 12.0  # 6x


def test_an_input_named_recording_gets_the_create_graph_gradient_from_backward_too():
    op = primitive("sq_recording", ("recording",), "recording * recording", ("2.0 * recording",))
    x = Value(3.0)
    y = apply(op, x)
    y.backward()
    assert x.grad == 6.0 == grad(y, [x], create_graph=True)[0].data


@pytest.mark.parametrize("name", ["None", "True", "False", "class", "lambda", "__debug__", "out", "exp", "where", "1x", ""])
def test_keywords_and_taken_names_are_refused_as_inputs_in_one_line(name):
    with pytest.raises(ValueError, match="identifiers other than 'out', Python's keywords"):
        primitive(f"bad_{name}", (name,), "1.0", ("0.0",))


def test_a_label_named_debug_compiles():
    x = Value(1.0, "__debug__")
    y = (x * 2.0).exp()
    y.label = "__debug__"
    program = sg.compile(y, [x])
    assert program(0.5) == pytest.approx(math.e)
    assert "t___debug__ = " in program.source and "\n    __debug__" not in program.source


@pytest.mark.parametrize("name", ["**2", "**-1", "**0.5", "**x", "** 2"])
def test_constant_power_names_are_reserved(name):
    with pytest.raises(ValueError, match=r"'\*\*<number>' are the engine's own"):
        primitive(name, ("x",), "x * x", ("2.0 * x",))
    x = Value(3.0)
    y = x**2
    y.backward()
    assert (y.data, x.grad, y.op) == (9.0, 6.0, "**2")


# ------------------------------------------------------------ rules: comparisons and where


ZERO_GUARDED = primitive("sinc_like", ("x",), "where(x == 0.0, 1.0, x * x)", ("where(x == 0.0, 0.0, 2.0 * x)",))


def test_equality_in_a_rule_means_the_same_in_every_mode():
    x = Value(0.0)
    y = apply(ZERO_GUARDED, x)
    assert y.data == 1.0
    y.backward()
    (dx,) = grad(y, [x], create_graph=True)
    program = sg.compile(y, [x])
    assert x.grad == dx.data == program.grad(0.0)[1][0] == 0.0
    assert program.grad(np.array([0.0, 3.0]))[1][0].tolist() == [0.0, 6.0]


@pytest.mark.parametrize("rule", ["x > 0.0", "x == 1.0", "1.0 + (x > 0.0)", "where(x, 1.0, 0.0)", "where(0.0 < x < 1.0, x, 0.0)"])
def test_a_rule_whose_result_is_not_a_number_is_refused(rule):
    with pytest.raises(ValueError, match=r"comparison|condition|chains"):
        primitive("bad_compare", ("x",), rule, ("1.0",))


@pytest.mark.parametrize("rule", ["where(x > 0.0, x)", "exp(x, x)", "power(x)"])
def test_a_function_with_the_wrong_number_of_arguments_is_refused(rule):
    with pytest.raises(ValueError, match="takes"):
        primitive("bad_arity", ("x",), rule, ("1.0",))


SOFTPLUS = primitive("guarded_softplus", ("x",), "where(x > 30.0, x, log(1.0 + exp(x)))",
                     ("where(x > 30.0, 1.0, sigmoid(x))",))
RECIPROCAL_OR_ZERO = primitive("reciprocal_or_zero", ("x",), "where(x == 0.0, 0.0, 1.0 / x)",
                               ("where(x == 0.0, 0.0, -(out * out))",))


@pytest.mark.parametrize("x0, value, slope", [(1000.0, 1000.0, 1.0), (0.0, math.log(2.0), 0.5), (-50.0, math.log1p(math.exp(-50.0)), 1.0 / (1.0 + math.exp(50.0)))])
def test_where_computes_only_its_branch_on_floats_and_values(x0, value, slope):
    x = Value(x0)
    y = apply(SOFTPLUS, x)
    y.backward()
    (dx,) = grad(y, [x], create_graph=True)
    assert y.data == pytest.approx(value, rel=1e-12) and x.grad == pytest.approx(slope, rel=1e-12)
    assert dx.data == x.grad
    program = sg.compile(y, [x])
    out, (dxs,) = program.grad(np.array([x0, 1.0]))
    assert out[0] == y.data and dxs[0] == x.grad
    assert program.grad(x0) == (y.data, (x.grad,))


def test_a_guarded_reciprocal_at_zero():
    x = Value(0.0)
    y = apply(RECIPROCAL_OR_ZERO, x)
    y.backward()
    assert (y.data, x.grad) == (0.0, 0.0)
    program = sg.compile(y, [x])
    out, (dx,) = program.grad(np.array([0.0, 2.0, -4.0]))
    assert out.tolist() == [0.0, 0.5, -0.25] and dx.tolist() == [0.0, -0.25, -0.0625]


# ------------------------------------------------------------ compiled: hostile parameters


def _neuron():
    x, w = Value(1.0, "x"), Value(2.0, "w")
    return x, w, sg.compile((w * x).tanh(), [x])


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_parameter_is_refused_on_a_batch_as_on_a_float(bad):
    x, w, program = _neuron()
    w.data = bad
    with pytest.raises(NonFiniteError) as on_float:
        program.grad(1.0)
    with pytest.raises(NonFiniteError) as on_batch:
        program.grad(np.array([1.0, 2.0]))
    assert str(on_batch.value) == f"sample 0: {on_float.value}"
    with pytest.raises(NonFiniteError):
        program.backward(np.array([1.0, 2.0]))
    assert w.grad == 0.0


def test_a_parameter_hidden_by_max_is_computed_as_eager_does():
    x, w = Value(1.0, "x"), Value(0.0, "w")
    program = sg.compile(w.max(x), [x])
    w.data = -math.inf  # eager: max(-inf, x) = x, finite, and so are its derivatives
    out, (dx,) = program.grad(np.array([1.0, 2.0]))
    assert out.tolist() == [1.0, 2.0] and dx.tolist() == [1.0, 1.0]
    assert program.grad(1.0) == (1.0, (1.0,))


@pytest.mark.parametrize("bad", [None, "2.0", [1.0]])
def test_a_parameter_that_is_not_a_number_is_a_type_error_naming_it(bad):
    x, w, program = _neuron()
    w.data = bad
    with pytest.raises(TypeError, match=r"the parameter w .* has data"):
        program.grad(np.array([1.0, 2.0]))


def test_a_batch_sum_that_overflows_is_refused_by_run_too():
    x, w = Value(1.0, "x"), Value(1.0, "w")
    program = sg.compile(w * x, [x])
    with pytest.raises(Overflow, match="the parameter w .* summed over the batch"):
        program.run(np.array([1e308, 1e308, 1e308]))  # each sample's ∂/∂w is finite, their sum is not
    with pytest.raises(Overflow, match="times the seed"):
        program.run(2.0, seed=1e308)
    assert w.grad == 0.0


# ------------------------------------------------------------ compiled: memory and pickling


def test_a_dropped_program_frees_its_source():
    x = Value(0.5, "x")
    y = x
    for _ in range(50):
        y = y.tanh()
    y.label = "t50"
    held = []
    for _ in range(20):
        program = sg.compile(y, [x])
        program(np.array([0.1, 0.2]))
        names = [name for name in linecache.cache if str(name).startswith(f"<compiled t50 #{id(program)}:")]
        assert len(names) == 1  # the batch forward: the rest is generated when a call needs it
        held += names
    del program
    gc.collect()
    assert not set(held) & set(linecache.cache)


def test_a_program_pickles_and_loads_compiled_again():
    x, w = Value(1.0, "x"), Value(0.5, "w")
    program = sg.compile((w * x).sigmoid(), [x])
    copy = pickle.loads(pickle.dumps(program))
    assert copy(np.array([1.0, -2.0])).tolist() == program(np.array([1.0, -2.0])).tolist()
    assert copy.source == program.source
    copy.backward(1.0)
    assert copy.parameters[0].grad != 0.0 and w.grad == 0.0


def test_code_is_generated_on_first_use_and_fit_leaves_none_behind():
    import nn

    compiled = lambda: {name for name in linecache.cache if str(name).startswith("<compiled")}  # noqa: E731
    x = Value(0.5, "x")
    program = sg.compile(x.tanh() * 2.0, [x])
    mine = lambda: {name for name in compiled() if f"#{id(program)}:" in name}  # noqa: E731
    assert mine() == set()  # nothing generated until a call needs it
    program(np.array([0.5]))
    assert len(mine()) == 1  # the batch forward only
    del program
    gc.collect()
    before = compiled()
    model = nn.MLP(2, [3, 1], seed=0)
    X, y = nn.data.xor()
    nn.fit(model, X, y, "mse", nn.SGD(model.parameters(), lr=0.1), epochs=2, progress=False, compile=True)
    gc.collect()
    assert compiled() <= before


def test_a_manual_backward_step_that_overflows_is_an_overflow_and_one_from_inf_is_not():
    a = Value(1e300, "a")
    n = a * Value(2.0)
    n.grad = 1e308  # finite numbers whose product overflows
    with pytest.raises(Overflow, match=r"_backward\(\): the gradient of its parent .* would be inf"):
        n._backward()
    u = a.tanh()
    u.grad = math.inf  # an inf set by hand: not an overflow
    with pytest.raises(NonFiniteError) as caught:
        u._backward()
    assert type(caught.value) is NonFiniteError and a.grad == 0.0


def test_a_compiled_backward_whose_sum_with_grad_overflows_changes_nothing():
    x, w, program = _neuron()
    w.grad = 1.7e308
    before = w.grad
    program.backward(np.array([1.0, 2.0]))  # adds a small gradient: fine
    w.grad = 1.7e308
    with pytest.raises(Overflow, match=r"backpropagation: the gradient of the parameter w \(.*\) would be inf"):
        program.accumulate([1e308])
    assert w.grad == before
