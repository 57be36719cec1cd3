"""Drawing by groups: ``scalargrad.scope`` names boxed as clusters or collapsed into one node each."""

import re

import pytest
from draw_helpers import dot_edges, dot_nodes

from scalargrad import Value, draw, scope, topological_order
from scalargrad.pictures.drawing import GraphTooLarge


def tiny_net():
    """A 2-2-1 tanh network's squared error, built inside scopes like nn's modules; after backward."""
    x1, x2 = Value(1.0, "x1"), Value(-2.0, "x2")
    hidden = []
    with scope("layer1"):
        for j in range(2):
            with scope(f"neuron{j}"):
                w1, w2, b = Value(0.5 * (j + 1), "w1"), Value(-0.3, "w2"), Value(0.1, "b")
                hidden.append((w1 * x1 + w2 * x2 + b).tanh())
    with scope("layer2"):
        with scope("neuron0"):
            y = Value(1.0, "v1") * hidden[0] + Value(-1.0, "v2") * hidden[1]
    loss = (y - 1.0) ** 2
    loss.label = "loss"
    loss.backward()
    return loss, hidden, y


def cluster_paths(source):
    """{node name: the labels of the clusters it is declared in, outermost first}."""
    stack, paths = [], {}
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("subgraph cluster_"):
            stack.append(None)
        elif stack and stack[-1] is None and (m := re.search(r'\blabel=("[^"]*"|\S+)', line)):
            stack[-1] = m[1].strip('"')
        elif line == "}" and stack:
            stack.pop()
        elif m := re.match(r"(\w+) \[", line):
            if m[1] not in ("graph", "node", "edge"):
                paths[m[1]] = tuple(stack)
    return paths


def test_box_puts_each_node_in_nested_clusters_named_after_its_scope():
    loss, _, _ = tiny_net()
    order = topological_order(loss)
    source = draw(loss, group="box").source
    paths = cluster_paths(source)
    for i, node in enumerate(order):
        expected = tuple(node.scope.split(".")) if node.scope else ()
        assert paths[f"v{i}"] == expected
        if not node.is_leaf:
            assert paths[f"o{i}"] == expected
    assert source.count("subgraph cluster_") == 5  # layer1, its 2 neurons, layer2, its neuron
    no_groups = draw(loss).source
    assert dot_edges(source) == dot_edges(no_groups)  # boxing moves nodes, it changes no edge


def test_collapse_draws_each_scope_as_one_node_with_its_output():
    loss, hidden, y = tiny_net()
    source = draw(loss, group="collapse").source
    nodes = dot_nodes(source)
    group = {label.split("\\n")[0]: name for name, (label, _) in nodes.items() if name.startswith("g")}
    assert sorted(group) == ["layer1.neuron0", "layer1.neuron1", "layer2.neuron0"]
    fmt = lambda v: f"{v:.4g}"  # noqa: E731
    for scope_name, out in zip(["layer1.neuron0", "layer1.neuron1", "layer2.neuron0"], [hidden[0], hidden[1], y]):
        assert f"out: data {fmt(out.data)}  grad {fmt(out.grad)}" in nodes[group[scope_name]][0]
    ungrouped = {label: name for name, (label, _) in nodes.items() if name.startswith("v")}
    assert len(ungrouped) == 5  # x1, x2, the constant -1, y - 1 and loss
    x1 = next(n for n in topological_order(loss) if n.label == "x1")
    x1_id = ungrouped["{ x1 | data 1 | grad " + fmt(x1.grad) + " }"]
    x2_id = next(name for label, name in ungrouped.items() if label.startswith("{ x2 |"))
    n0, n1, out = group["layer1.neuron0"], group["layer1.neuron1"], group["layer2.neuron0"]
    edges = [(t, h) for t, h, _ in dot_edges(source)]
    assert {(x1_id, n0), (x2_id, n0), (x1_id, n1), (x2_id, n1), (n0, out), (n1, out)} <= set(edges)
    assert len(edges) == len(set(edges))  # one edge per source into a group
    assert not any(t == h for t, h in edges)


def test_collapse_by_depth_shows_every_output_of_the_group():
    loss, hidden, _ = tiny_net()
    nodes = dot_nodes(draw(loss, group="collapse", group_depth=1).source)
    layer1 = next(label for label, _ in nodes.values() if label.startswith("layer1\\n")).split("\\n")
    in_layer1 = sum(n.scope.startswith("layer1.") for n in topological_order(loss))
    assert layer1[1] == f"({in_layer1} nodes)" and in_layer1 == 16
    assert len([line for line in layer1 if line.startswith("out: ")]) == 2  # its two neurons' outputs


def test_group_depth_boxes_by_the_first_parts_only():
    loss, _, _ = tiny_net()
    source = draw(loss, group="box", group_depth=1).source
    assert source.count("subgraph cluster_") == 2
    assert set(cluster_paths(source).values()) == {(), ("layer1",), ("layer2",)}


def test_collapsed_graph_counts_groups_against_the_node_limit():
    loss, _, _ = tiny_net()
    assert len(topological_order(loss)) > 8
    draw(loss, group="collapse", max_nodes=8)  # 5 ungrouped nodes + 3 groups
    with pytest.raises(GraphTooLarge, match=r"has 8 nodes with its scopes collapsed, more than max_nodes=7.*group_depth"):
        draw(loss, group="collapse", max_nodes=7)
    with pytest.raises(GraphTooLarge, match=r"draw each scope as one node with group='collapse'"):
        draw(loss, max_nodes=7)


def test_scope_names_are_escaped_in_boxes_and_groups():
    x = Value(1.0, "x")
    with scope('bad"name{|}'):
        y = x * 2
    z = y + 1
    for group in ("box", "collapse"):
        source = draw(z, group=group).source
        assert 'bad\\"name\\{\\|\\}' in source
        assert len(dot_nodes(source)) == (7 if group == "box" else 5)


def net_with_outside_params():
    """Two neurons whose weights are made outside any scope (as nn makes them), plus one
    parameter shared by both neurons; after backward."""
    x = Value(1.5, "x")
    w = [Value(0.5, "wa"), Value(-0.7, "wb")]
    shared = Value(0.2, "shared")
    outs = []
    for j in range(2):
        with scope(f"neuron{j}"):
            outs.append((w[j] * x + shared).tanh())
    loss = outs[0] * outs[1]
    loss.label = "loss"
    loss.backward()
    return loss, w, shared


def test_fold_params_draws_each_groups_own_parameters_inside_it():
    loss, w, shared = net_with_outside_params()
    unfolded = dot_nodes(draw(loss, group="collapse", params=[*w, shared]).source)
    folded = dot_nodes(draw(loss, group="collapse", params=[*w, shared], fold_params=True).source)
    labels = [label for label, _ in folded.values()]
    assert any(label.startswith("{ wa |") for label, _ in unfolded.values())
    assert not any(label.startswith(("{ wa |", "{ wb |")) for label in labels)  # folded into their neurons
    assert any(label.startswith("{ shared |") for label in labels)  # used by two groups: stays outside
    assert any(label.startswith("{ x |") for label in labels)  # inputs are never folded
    neuron0 = next(label for label in labels if label.startswith("neuron0"))
    assert "(4 nodes, 1 parameters)" in neuron0
    assert len(folded) == len(unfolded) - 2


def test_fold_params_also_boxes_parameters_with_their_group():
    loss, w, shared = net_with_outside_params()
    source = draw(loss, group="box", params=[*w, shared], fold_params=True).source
    paths = cluster_paths(source)
    names = {label.split(" |")[0].lstrip("{ "): name for name, (label, _) in dot_nodes(source).items()}
    assert paths[names["wa"]] == ("neuron0",) and paths[names["wb"]] == ("neuron1",)
    assert not paths.get(names["shared"])


def test_fold_params_counts_for_the_node_limit_and_is_checked():
    loss, w, shared = net_with_outside_params()
    with pytest.raises(GraphTooLarge, match=r"fold each group.s parameters into it \(fold_params=True, params=model\)"):
        draw(loss, group="collapse", params=[*w, shared], max_nodes=5)
    draw(loss, group="collapse", params=[*w, shared], fold_params=True, max_nodes=5)  # 5 nodes once folded
    with pytest.raises(ValueError, match="fold_params=True .* needs group='box' or 'collapse' and params="):
        draw(loss, params=w, fold_params=True)
    with pytest.raises(ValueError, match="needs group='box' or 'collapse' and params="):
        draw(loss, group="collapse", fold_params=True)
    with pytest.raises(TypeError, match="fold_params must be True or False, got str 'yes'"):
        draw(loss, group="collapse", params=w, fold_params="yes")
