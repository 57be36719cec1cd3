"""The "building micrograd" lecture, typed along with it on scalargrad's Value.

The learner's code is written as the lecture writes it (``Value(data, _children, _op, label)``,
``_prev``, ``_op``, ``label``, ``_backward`` closures, the manual backward pass, ``draw_dot``),
with only the import changed, and gives the lecture's numbers. Then what the engine adds for
it: ``_backward()`` on the table's own nodes, closure nodes mixed with table nodes, user
attributes, ``Value ** Value``, pickling and copying graphs of any depth, and every refusal.
"""

import copy
import math
import pickle
import random
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from draw_helpers import dot_edges, dot_nodes

import scalargrad
from scalargrad import NonFiniteError, Value, apply, draw_dot, grad, gradcheck, no_grad, primitive, topological_order
from scalargrad.engine.value import UserValue


# ------------------------------------------------------------------ the lecture, part 1: L = (a*b + c) * f


def test_the_first_expression_its_labels_gradients_and_the_nudge():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b; e.label = "e"  # noqa: E702 - as the lecture types it
    d = e + c; d.label = "d"  # noqa: E702
    f = Value(-2.0, label="f")
    L = d * f; L.label = "L"  # noqa: E702
    assert repr(L) == "Value(label='L', data=-8.0, grad=0.0)"
    assert (d._op, set(d._prev)) == ("+", {e, c})
    assert (L._op, set(L._prev)) == ("*", {d, f})

    L.backward()
    # dL/dd = f, dL/df = d, then the chain rule through + (routes) and * (swaps).
    assert [v.grad for v in (L, f, d, c, e, a, b)] == [1.0, 4.0, -2.0, -2.0, -2.0, 6.0, -4.0]

    # One step of "gradient ascent" on the leaves, as the lecture nudges them.
    for leaf in (a, b, c, f):
        leaf.data += 0.01 * leaf.grad
    e = a * b
    d = e + c
    L = d * f
    assert L.data == pytest.approx(-7.286496, abs=1e-12)


def test_the_lectures_numerical_gradient_agrees_with_backward():
    def lol(h_on):  # the lecture's "lol" function: L with h added to one input
        h = 0.0001
        inputs = {"a": 2.0, "b": -3.0, "c": 10.0, "f": -2.0}
        inputs[h_on] += h
        a, b, c, f = (Value(inputs[k], label=k) for k in "abcf")
        return ((a * b + c) * f).data, h

    L1 = ((Value(2.0) * Value(-3.0) + Value(10.0)) * Value(-2.0)).data
    a, b, c, f = Value(2.0, "a"), Value(-3.0, "b"), Value(10.0, "c"), Value(-2.0, "f")
    ((a * b + c) * f).backward()
    for name, leaf in zip("abcf", (a, b, c, f)):
        L2, h = lol(name)
        assert (L2 - L1) / h == pytest.approx(leaf.grad, abs=1e-6)


def test_draw_dot_from_scalargrad_shows_the_lectures_labels_and_ops():
    a, b, c = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c")
    e = a * b; e.label = "e"  # noqa: E702
    d = e + c; d.label = "d"  # noqa: E702
    labels = [label for label, _ in dot_nodes(draw_dot(d).source).values()]
    for text in ("a | data 2", "b | data -3", "e | data -6", "d | data 4"):
        assert any(text in label for label in labels)
    assert labels.count("*") == 1 and labels.count("+") == 1


# ------------------------------------------------------------------ the neuron, by hand


def neuron(Value=Value, tanh=None):
    """The lecture's two-input neuron with b chosen so that o = tanh(n) = 1/√2, its tanh
    n.tanh() or ``tanh(n)``, made of ``Value`` (scalargrad's, or the lecture's class below)."""
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1; x1w1.label = "x1*w1"  # noqa: E702
    x2w2 = x2 * w2; x2w2.label = "x2*w2"  # noqa: E702
    x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = "x1*w1 + x2*w2"  # noqa: E702
    n = x1w1x2w2 + b; n.label = "n"  # noqa: E702
    o = n.tanh() if tanh is None else tanh(n); o.label = "o"  # noqa: E702
    return dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, x1w1=x1w1, x2w2=x2w2, x1w1x2w2=x1w1x2w2, n=n, o=o)


def tanh_by_exp(n):
    """tanh(n) = (e²ⁿ − 1) / (e²ⁿ + 1), through exp, ** −1 and /, as the lecture rewrites it."""
    e = (2 * n).exp(); e.label = "e"  # noqa: E702
    return (e - 1) / (e + 1)


def assert_the_lectures_neuron_gradients(v):
    assert v["o"].data == pytest.approx(0.7071, abs=1e-4)
    assert v["o"].data == pytest.approx(1 / math.sqrt(2), rel=1e-12)
    expected = dict(n=0.5, b=0.5, x1w1x2w2=0.5, x1w1=0.5, x2w2=0.5, x1=-1.5, w1=1.0, x2=0.5, w2=0.0)
    assert {k: v[k].grad for k in expected} == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_the_manual_backward_pass_calls_backward_on_scalargrads_own_nodes():
    v = neuron()
    o = v["o"]
    o.grad = 1.0
    o._backward()
    assert v["n"].grad == pytest.approx(1 - o.data**2)  # 0.5
    v["n"]._backward()
    v["b"]._backward()  # a leaf: nothing to pass on
    v["x1w1x2w2"]._backward()
    v["x2w2"]._backward()
    v["x1w1"]._backward()
    assert_the_lectures_neuron_gradients(v)


def test_the_lectures_topological_sort_and_backward_loop_on_scalargrads_nodes():
    v = neuron()
    LectureValue.lecture_backward(v["o"])  # build_topo over _prev, then node._backward() in reverse
    assert_the_lectures_neuron_gradients(v)
    manual = {k: x.grad for k, x in v.items()}
    w = neuron()
    w["o"].backward()
    assert {k: x.grad for k, x in w.items()} == manual  # the same float operations, the same numbers


def test_backward_step_adds_to_what_parents_had_for_every_primitive():
    a, b = Value(0.7), Value(-1.3)
    for out in (a + b, a * b, a.max(b), a.exp(), a.tanh(), a.sigmoid(), a.relu(), a.reciprocal(), a**3, a**b.exp(), a + a):
        for parent in out.parents:
            parent.grad = 0.25
        out.grad = -2.0
        out._backward()
        expected = {}
        for parent, local in zip(out.parents, out.local_grads):
            expected[parent] = expected.get(parent, 0.25) + -2.0 * local
        assert {p: p.grad for p in out.parents} == expected


# ------------------------------------------------------------------ the lecture's own Value class, on scalargrad


class LectureValue(scalargrad.Value):
    """The lecture's Value operations typed as it types them (micrograd's closures), on
    scalargrad's Value: its constructor, ``.grad``, ``backward()`` and ``draw_dot``."""

    def __add__(self, other):
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += 1.0 * out.grad
            other.grad += 1.0 * out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, LectureValue) else LectureValue(other)
        out = LectureValue(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, other):
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        out = LectureValue(self.data**other, (self,), f"**{other}")

        def _backward():
            self.grad += other * (self.data ** (other - 1)) * out.grad

        out._backward = _backward
        return out

    def __rmul__(self, other):  # other * self
        return self * other

    def __truediv__(self, other):  # self / other
        return self * other**-1

    def __neg__(self):  # -self
        return self * -1

    def __sub__(self, other):  # self - other
        return self + (-other)

    def __radd__(self, other):  # other + self
        return self + other

    def tanh(self):
        x = self.data
        t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
        out = LectureValue(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        x = self.data
        out = LectureValue(math.exp(x), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def lecture_backward(self):
        """The lecture's own backward(), recursion and all."""
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for node in reversed(topo):
            node._backward()


@pytest.mark.parametrize("decomposed", [False, True], ids=["tanh", "exp-pow-truediv"])
@pytest.mark.parametrize("backward", ["scalargrad", "lecture"])
def test_the_lectures_closures_give_the_lectures_gradients(decomposed, backward):
    v = neuron(LectureValue, tanh_by_exp if decomposed else None)
    o = v["o"]
    assert o.is_leaf is False and o.primitive is None
    if backward == "scalargrad":
        o.backward()
    else:
        o.lecture_backward()
    assert_the_lectures_neuron_gradients(v)
    if not decomposed:
        assert (o._op, o.op, o._prev) == ("tanh", "tanh", (v["n"],))
        assert o.local_grads == (pytest.approx(0.5),)  # what its closure passes per unit of gradient
        assert o.grad == 1.0 and v["n"].grad == pytest.approx(0.5)


def test_draw_dot_shows_closure_nodes_with_their_op_names_and_edge_labels():
    v = neuron(LectureValue, tanh_by_exp)
    v["o"].backward()
    source = draw_dot(v["o"], edge_labels=True).source
    labels = [label for label, _ in dot_nodes(source).values()]
    for op in ("exp", "**-1", "+", "*"):
        assert op in labels
    # 2·n's edge from n: local 2 (what the closure passes per unit), times its gradient.
    two_n = next(x for x in topological_order(v["o"]) if x.op == "*" and v["n"] in x.parents)
    assert two_n.parents[1].data == 2.0 and two_n.local_grads == (2.0, v["n"].data)
    assert v["n"].grad == 0.5  # probing the closures put every .grad back
    assert all(label and label.startswith("local ") for _, _, label in dot_edges(source) if label)
    steps = list(scalargrad.backward_steps(v["o"]))
    assert len(steps) == len(topological_order(v["o"]))


def test_the_lectures_bug_cases_a_used_twice():
    a = LectureValue(3.0, label="a")
    b = a + a; b.label = "b"  # noqa: E702
    b.backward()
    assert a.grad == 2.0  # the lecture's bug gave 1.0

    a, b = LectureValue(-2.0, label="a"), LectureValue(3.0, label="b")
    d = a * b; d.label = "d"  # noqa: E702
    e = a + b; e.label = "e"  # noqa: E702
    f = d * e; f.label = "f"  # noqa: E702
    f.backward()
    assert (a.grad, b.grad) == (-3.0, -8.0)
    assert a.local_grads == () and f.local_grads == (e.data, d.data)


def test_a_closure_that_overwrites_gives_what_it_says_and_backward_still_accumulates_across_nodes():
    # The lecture's "=" instead of "+=" bug: within a node (a + a) the closure's own code decides;
    # across nodes scalargrad adds every node's contribution itself.
    a = Value(3.0, label="a")
    out = Value(6.0, (a, a), "+")

    def _backward():
        a.grad = 1.0 * out.grad
        a.grad = 1.0 * out.grad

    out._backward = _backward
    out.backward()
    assert a.grad == 1.0  # as the closure says
    y = out * a  # a reached two ways
    a.grad = 0.0
    y.backward()
    assert a.grad == 3.0 * 1.0 + 6.0


def test_the_lectures_ops_as_monkey_patched_methods_mix_with_the_tables_nodes(monkeypatch):
    # Value.tanh = tanh, as a learner patches the lecture's methods onto a class: here the
    # lecture's methods onto scalargrad's own Value (undone after the test).
    for name in ("tanh", "exp", "__pow__"):
        monkeypatch.setattr(Value, name, getattr(LectureValue, name))

    v = neuron()  # + and * from the table, tanh from the closure
    assert v["o"].op == "tanh" and v["o"].primitive is None and v["n"].primitive is not None
    v["o"].backward()
    assert_the_lectures_neuron_gradients(v)

    v = neuron(tanh=tanh_by_exp)
    v["o"].backward()
    assert_the_lectures_neuron_gradients(v)

    # grad() runs the closures too, and leaves every .grad as it found it.
    v = neuron()
    for x in v.values():
        x.grad = 7.0
    g = grad(v["o"], [v["x1"], v["w1"], v["x2"], v["w2"]])
    assert [x.data for x in g] == pytest.approx([-1.5, 1.0, 0.5, 0.0])
    assert all(x.grad == 7.0 for x in v.values())
    with pytest.raises(TypeError, match=r"create_graph=True\) cannot differentiate the 'tanh' node .*closure"):
        grad(v["o"], [v["x1"]], create_graph=True)
    assert all(x.grad == 7.0 for x in v.values())


def test_closure_nodes_against_finite_differences_and_the_table():
    def f(x, y):
        z = LectureValue(x.data, (x,), "id")  # a closure node between table nodes
        z._backward = lambda: setattr(x, "grad", x.grad + z.grad)
        q = LectureValue(z.data * y.data, (z, y), "*")

        def _backward():
            z.grad += y.data * q.grad
            y.grad += z.data * q.grad

        q._backward = _backward
        return (q.sigmoid() + y.exp()) * x

    assert gradcheck(f, [0.3, -0.8])
    x, y = Value(0.3), Value(-0.8)
    table = ((x * y).sigmoid() + y.exp()) * x
    assert [g.data for g in grad(f(x, y), [x, y])] == pytest.approx([g.data for g in grad(table, [x, y])], rel=1e-15)


def test_two_threads_backpropagating_a_graph_with_closures_leave_what_running_in_turn_leaves():
    xs = [Value(0.1 * (i + 1), f"x{i}") for i in range(4)]
    out = Value(0.0)
    for i in range(60):  # closure nodes (the lecture's tanh) between the table's * and sigmoid
        out = out + LectureValue.tanh(xs[i % 4] * xs[(i + 1) % 4]).sigmoid()
    out.backward()
    once = [x.grad for x in xs]
    for x in xs:
        x.grad = 0.0
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch every few microseconds, inside closure steps too
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: [out.backward() for _ in range(10)], range(2)))
    finally:
        sys.setswitchinterval(switch)
    for x, g in zip(xs, once):
        total = 0.0
        for _ in range(20):
            total += g
        assert x.grad == total


# ------------------------------------------------------------------ the lecture's MLP, typed on scalargrad's Value


class Neuron:
    def __init__(self, nin):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.tanh()

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, nin, nout):
        self.neurons = [Neuron(nin) for _ in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [Layer(sz[i], sz[i + 1]) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


def test_the_lectures_mlp_trains_and_its_gradients_match_finite_differences():
    random.seed(1337)
    n = MLP(3, [4, 4, 1])
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]

    def loss_of():
        ypred = [n(x) for x in xs]
        return sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))

    loss = loss_of()
    for p in n.parameters():
        p.grad = 0.0
    loss.backward()
    p = n.parameters()[5]
    h = 1e-6
    p.data += h
    up = loss_of().data
    p.data -= 2 * h
    down = loss_of().data
    p.data += h
    assert p.grad == pytest.approx((up - down) / (2 * h), rel=1e-5)

    losses = []
    for _ in range(20):
        loss = loss_of()
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.1 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.1 * losses[0]


# ------------------------------------------------------------------ user attributes


def test_values_you_make_take_attributes_of_your_own():
    p = Value(0.5, "p")
    p.m, p.v, p._vis_color = 0.0, 0.0, "red"
    assert (p.m, p.v, p._vis_color) == (0.0, 0.0, "red")
    assert isinstance(p, UserValue) and isinstance(p, Value)
    # The nodes operations make keep their compact layout: no __dict__, no attributes.
    q = p * 2
    assert type(q) is Value and not hasattr(q, "__dict__")
    with pytest.raises(AttributeError):
        q.m = 0.0
    # The engine's own names stay the engine's: data and grad are not shadowed by attributes.
    p.data = 2.0
    assert (p * 3).data == 6.0 and "data" not in vars(p)


def test_an_optimizer_keeping_its_state_on_parameters_micrograd_style():
    w = Value(3.0, "w")
    for _ in range(300):  # momentum SGD on (w - 1)^2, the state in w.velocity
        w.grad = 0.0
        loss = (w - 1) ** 2
        loss.backward()
        w.velocity = 0.9 * getattr(w, "velocity", 0.0) - 0.05 * w.grad
        w.data += w.velocity
    assert w.data == pytest.approx(1.0, abs=1e-6)


# ------------------------------------------------------------------ Value ** Value


@pytest.mark.parametrize("a, b", [(2.0, 3.0), (0.5, -1.5), (3.7, 0.0), (1.0, 2.5), (1e-3, 0.5)])
def test_value_to_a_value_power_and_both_derivatives(a, b):
    x, y = Value(a, "a"), Value(b, "b")
    z = x**y
    assert z.op == "**" and z.parents == (x, y)
    assert z.data == pytest.approx(math.exp(b * math.log(a)), rel=1e-14)
    z.backward()
    assert x.grad == pytest.approx(b * a ** (b - 1), rel=1e-12)  # d/da aᵇ = b·aᵇ⁻¹
    assert y.grad == pytest.approx(a**b * math.log(a), rel=1e-12, abs=1e-300)  # d/db aᵇ = aᵇ·ln a
    assert gradcheck(lambda p, q: p**q, [a, b], eps=1e-7 * a)
    # Second derivatives through create_graph, against finite differences of the first.
    dx, dy = grad(x**y, [x, y], create_graph=True)
    d2, = grad(dx, [y])  # ∂²/∂b∂a aᵇ = aᵇ⁻¹(1 + b ln a)
    assert d2.data == pytest.approx(a ** (b - 1) * (1 + b * math.log(a)), rel=1e-12)


def test_value_to_a_value_power_against_torch():
    torch = pytest.importorskip("torch")
    for a, b in [(2.0, 3.0), (0.5, -1.5), (7.3, 0.25)]:
        ta, tb = torch.tensor(a, dtype=torch.float64, requires_grad=True), torch.tensor(b, dtype=torch.float64, requires_grad=True)
        (ta**tb).backward()
        x, y = Value(a), Value(b)
        z = x**y
        z.backward()
        assert z.data == pytest.approx((ta**tb).item(), rel=1e-15)
        assert (x.grad, y.grad) == pytest.approx((ta.grad.item(), tb.grad.item()), rel=1e-14)


def test_value_to_a_value_power_refusals():
    with pytest.raises(NonFiniteError, match=r"\*\*: power\(10.0, 400.0\) is not a finite real number"):
        Value(10.0) ** Value(400.0)
    with pytest.raises(NonFiniteError, match="needs a > 0"):
        Value(0.0) ** Value(2.0)
    with no_grad(), pytest.raises(NonFiniteError, match="needs a > 0"):
        Value(-8.0) ** Value(2.0)
    assert (Value(-2.0) ** 2).data == 4.0  # a constant exponent keeps working for negative bases


# ------------------------------------------------------------------ pickle and deepcopy, any depth


def _chain(links):
    """A DAG: a chain where each link also reuses the previous link (two ways down)."""
    x = Value(0.5, "x")
    x.tag = "input"
    y = x
    for _ in range(links):  # 6 nodes a link: y·c, the constants c and 1e-6, tanh y, its product, the sum
        y = y * 0.999999 + y.tanh() * 1e-6
    return x, y


@pytest.fixture(scope="module")
def deep_graph():
    """A 10^5-node DAG."""
    x, y = _chain(17_000)
    assert len(topological_order(y)) > 100_000
    return x, y


@pytest.fixture(scope="module")
def graph_deeper_than_the_recursion_limit():
    """A DAG whose longest path is 3 times the recursion limit (6,000 nodes for the default 1,000):
    deep enough that any recursion down it fails, as the 10^5-node graph would show, for a tenth
    of the nodes."""
    x, y = _chain(sys.getrecursionlimit())
    depth = {}
    for node in topological_order(y):
        depth[node] = 1 + max((depth[p] for p in node.parents), default=0)
    assert depth[y] > 3 * sys.getrecursionlimit()
    return x, y


def test_a_graph_of_10_to_the_5_nodes_pickles_and_deep_copies(deep_graph):
    assert sys.getrecursionlimit() <= 10_000
    x, y = deep_graph
    y.backward()
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        order = topological_order(clone)
        assert len(order) == len(topological_order(y))
        leaf = order[0]
        assert (leaf.label, leaf.tag, leaf.data, leaf.grad) == ("x", "input", 0.5, x.grad)
        assert clone.data == y.data and clone.grad == 1.0
        leaf.grad = 0.0
        clone.backward()
        assert leaf.grad == x.grad and leaf is not x


def test_pickling_keeps_identity_across_roots_and_leaves_no_state_behind(graph_deeper_than_the_recursion_limit):
    x, y = graph_deeper_than_the_recursion_limit
    mid = y.parents[0].parents[0]
    a, b, c = pickle.loads(pickle.dumps([mid, y, x]))
    assert b.parents[0].parents[0] is a and topological_order(b)[0] is c
    d, e = copy.deepcopy([y, mid])
    assert d.parents[0].parents[0] is e
    assert not scalargrad.engine.pickling._pickling.listed  # every root's listing was closed
    # A pickling that fails half-way (an attribute pickle cannot write) leaves ids listed;
    # the next pickling of any part of the graph still never recurses deeply.
    x.unpicklable = lambda: None
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(y)
    del x.unpicklable
    assert pickle.loads(pickle.dumps(mid)).data == mid.data
    # A shallow copy is a new node on the same parents.
    s = copy.copy(y)
    assert s is not y and s.parents == y.parents and s.data == y.data


def test_an_mlp_after_a_forward_pass_pickles_with_its_graph():
    import nn

    model = nn.MLP(2, [4, 1], seed=0)
    out = model([0.5, -1.0])
    model.parameters()[0].m = 0.25  # optimizer state kept on a parameter
    model2, out2 = pickle.loads(pickle.dumps((model, out)))
    assert out2.data == out.data
    assert set(model2.parameters()) <= set(topological_order(out2))  # the graph's leaves are the model's
    assert model2.parameters()[0].m == 0.25
    out.backward()
    out2.backward()
    assert [p.grad for p in model2.parameters()] == [p.grad for p in model.parameters()]
    assert any(p.grad != 0.0 for p in model2.parameters())


def test_labels_scopes_ops_and_primitives_survive():
    with scalargrad.scope("layer"):
        a = Value(1.5, "a")
        t = Value(math.tanh(a.data), (a,), "mytanh")  # a lecture node without a closure yet
        b = apply(SOFTPLUS, t) * a
    b.label = "b"
    for clone in (pickle.loads(pickle.dumps(b)), copy.deepcopy(b)):
        assert (clone.label, clone.scope, clone.op) == ("b", "layer", "*")
        s, leaf = clone.parents
        assert s.primitive is SOFTPLUS and s.parents[0].op == "mytanh" and leaf.label == "a"


SOFTPLUS = primitive("softplus", ("x",), "where(x > 20.0, x, log(1.0 + exp(x)))", ("where(x > 20.0, 1.0, sigmoid(x))",))


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((1.0, 3), {}, TypeError, r"a label \(a str\) or micrograd's _children"),
        ((1.0, Value(2.0)), {}, TypeError, r"_children \(a tuple of Values"),
        ((1.0, (2.0,)), {}, TypeError, r"_children\[0\] must be a Value, got float 2.0"),
        ((1.0, (Value(1.0),) * 3), {}, ValueError, "at most two parents.*got 3"),
        ((1.0, (), "tanh"), {}, ValueError, "_op='tanh' but no _children"),
        ((1.0, (Value(1.0),), 5), {}, TypeError, "_op must be the operation's name as a str, got int 5"),
        ((1.0, "a"), {"label": "b"}, TypeError, "two labels"),
        ((1.0,), {"label": 3}, TypeError, "label must be a str, got int 3"),
    ],
)
def test_the_constructor_refuses(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        Value(*args, **kwargs)


def test_a_subclass_setting_prev_or_op_itself_is_told_to_call_the_constructor():
    class Typed(Value):
        def __init__(self, data, _children=(), _op="", label=""):  # the lecture's own __init__
            self.data = data
            self.grad = 0.0
            self._prev = set(_children)
            self._op = _op
            self.label = label

    with pytest.raises(AttributeError, match=r"call.* super\(\).__init__\(data, _children, _op, label\)"):
        Typed(1.0)

    class Calling(Value):
        def __init__(self, data, _children=(), _op="", label=""):
            super().__init__(data, _children, _op, label)
            self._backward = lambda: None  # as micrograd's __init__ does, leaves included

    a = Calling(2.0, label="a")
    t = Calling(4.0, (a,), "sq")
    t._backward = lambda: setattr(a, "grad", a.grad + 2 * a.data * t.grad)
    t.backward()
    assert (t._op, t._prev, a.grad) == ("sq", (a,), 4.0)


def test_the_constructor_forms_that_work():
    a = Value(2.0, "a")
    assert (a.label, a.op, a.parents) == ("a", "", ())
    n = Value(3.0, [a, a], "+", label="n")
    assert (n.label, n.op, n.parents, n._prev) == ("n", "+", (a, a), (a, a))
    assert Value(1.0, (a,)).op == "" and not Value(1.0, (a,)).is_leaf
    with no_grad():  # as the table's nodes: no parents recorded
        assert Value(1.0, (a,), "tanh").is_leaf and Value(1.0, (a,), "tanh").op == ""


def test_a_closure_node_without_backward_is_refused_and_nothing_changes():
    a = Value(2.0, "a")
    a.grad = 5.0
    t = Value(math.tanh(2.0), (a,), "tanh")
    out = t * 3
    for call in (out.backward, t._backward, lambda: grad(out, [a]), lambda: t.local_grads):
        with pytest.raises(TypeError, match=r"made by 'tanh' \(made with Value\(data, _children, _op\)\) has no _backward"):
            call()
    assert a.grad == 5.0 and t.grad == 0.0 and out.grad == 0.0
    draw_dot(out)  # drawing needs no derivatives


def test_backward_cannot_be_set_on_the_tables_nodes_nor_be_anything_but_a_function():
    a = Value(2.0)
    with pytest.raises(TypeError, match=r"cannot set _backward on a node made by the table's '\*', whose derivative"):
        (a * a)._backward = lambda: None
    with no_grad():
        made = a * a
    for node in (made, (a * 2).parents[1]):
        with pytest.raises(TypeError, match="made by an operation under no_grad, or a Constant"):
            node._backward = lambda: None
    node = Value(4.0, (a,), "sq")
    with pytest.raises(TypeError, match="must be a function taking no arguments, got float 1.0"):
        node._backward = 1.0
    a._backward = lambda: None  # micrograd gives every leaf one; harmless
    del node._backward


def test_a_closure_leaving_a_non_number_in_grad_is_refused_and_grads_are_restored():
    a = Value(2.0, "a")
    a.grad = 1.5
    out = Value(4.0, (a,), "sq")

    def _backward():
        a.grad = Value(4.0)  # a Value where a number belongs

    out._backward = _backward
    with pytest.raises(TypeError, match=r"left UserValue Value\(data=4.0, grad=0.0\) in a parent's .grad, not a number"):
        out.backward()
    assert a.grad == 1.5 and out.grad == 0.0


def test_a_closure_whose_gradient_overflows_is_refused_and_nothing_changes():
    a = Value(2.0, "a")
    out = Value(4.0, (a,), "sq")

    def _backward():
        a.grad += 1e308 * out.grad * 10

    out._backward = _backward
    with pytest.raises(NonFiniteError, match="gradient of the node 'a'.*no .grad was changed"):
        (out * 1.0).backward()
    assert a.grad == 0.0 and out.grad == 0.0


def test_backward_step_refuses_an_overflow_and_changes_nothing():
    a = Value(1.0, "a")
    a.grad = 1e308
    b = a + a  # both parent slots are a
    b.grad = 1e308
    with pytest.raises(NonFiniteError, match=r"_backward\(\): the gradient of its parent .* no .grad was changed"):
        b._backward()
    assert a.grad == 1e308


def test_closure_nodes_are_refused_by_pickle_and_copy_and_leave_no_state_behind():
    a = Value(2.0, "a")
    a._backward = lambda: None  # micrograd's leaves have one too
    out = Value(4.0, (a,), "sq")
    out._backward = lambda: None
    y = out * 2.0
    listed = set(scalargrad.engine.pickling._pickling.listed)
    for attempt in (lambda: pickle.dumps(y), lambda: copy.deepcopy(y), lambda: copy.copy(out), lambda: pickle.dumps(a)):
        with pytest.raises(TypeError, match="cannot pickle or copy the .*_backward is a closure"):
            attempt()
    assert scalargrad.engine.pickling._pickling.listed == listed  # refused before listing anything
    del out._backward, a._backward  # without closures the graph pickles (the op name travels)
    assert pickle.loads(pickle.dumps(y)).parents[0].op == "sq"
