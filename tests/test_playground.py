"""The XOR playground without a browser: its logic (nn.playground: steps, training, reset, history,
predictions) and its face (nn.ui: pictures, the live loop, the widget)."""

from __future__ import annotations

import asyncio
import math
import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from nn import bce_with_logits
from nn.playground import Playground
from nn.ui import LiveTraining, PlaygroundWidget, figure, network_graph, plane_chart
from nn.ui.charts import field_colour, nice_ticks
from scalargrad import NonFiniteError, no_grad

SVG = "{http://www.w3.org/2000/svg}"


def weights(pg):
    return [p.data for p in pg.model.parameters()]


def test_xor_is_learned_with_one_hidden_layer():
    pg = Playground(dataset="xor", hidden=4, activation="tanh", optimizer="adam", lr=0.05, seed=0)
    start = pg.loss
    history = pg.train(200)
    assert pg.steps == 200 and len(history["loss"]) == len(history["accuracy"]) == 200
    assert pg.accuracy == 1.0
    assert pg.loss < 0.1 < math.log(2) < start + 0.1
    for x1, x2, target, p in pg.truth_table():
        assert (p > 0.5) == (target == 1), (x1, x2, target, p)
    assert [row[2] for row in pg.truth_table()] == [0, 1, 1, 0]


def test_step_returns_and_records_the_loss_of_the_updated_model():
    pg = Playground(dataset="moons", hidden=5, n=40, seed=3)
    before = weights(pg)
    loss = pg.step()
    assert weights(pg) != before
    with no_grad():
        recomputed = bce_with_logits([pg.model(x) for x in pg.X], pg.y).data
    assert loss == pg.loss == pg.history["loss"][-1] == recomputed


@pytest.mark.parametrize("dataset", ["xor", "moons", "circles", "spiral"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adagrad", "adam"])
def test_every_dataset_and_optimizer_lowers_the_loss(dataset, optimizer):
    pg = Playground(dataset=dataset, optimizer=optimizer, hidden=6, n=40, lr=0.1, seed=1)
    start = pg.loss
    pg.train(15)
    assert pg.loss < start


def test_same_settings_give_the_same_run_and_reset_starts_it_again():
    a, b = Playground(dataset="spiral", hidden=6, n=40, seed=7), Playground(dataset="spiral", hidden=6, n=40, seed=7)
    fresh_weights, fresh_loss = weights(a), a.loss
    a.train(10)
    b.train(10)
    assert a.history == b.history and weights(a) == weights(b)
    a.reset()
    assert a.steps == 0 and a.history == {"loss": [], "accuracy": []}
    assert weights(a) == fresh_weights and a.loss == fresh_loss
    assert weights(Playground(dataset="spiral", hidden=6, n=40, seed=8)) != fresh_weights


def test_configure_changes_the_run_and_refuses_bad_settings_without_changing_anything():
    pg = Playground(dataset="xor", hidden=3)
    pg.train(5)
    pg.configure(dataset="circles", hidden=7, activation="relu", optimizer="sgd", lr=0.2)
    assert pg.steps == 0 and len(pg.X) == 80 and len(pg.model.layers[0].neurons) == 7
    pg.train(3)
    settings, history = dict(pg.settings), pg.history
    for bad, error, message in [
        (dict(dataset="iris"), ValueError, "dataset must be one of 'xor', 'moons', 'circles', 'spiral', got 'iris'"),
        (dict(activation="gelu"), ValueError, "activation must be one of 'tanh', 'relu', 'sigmoid', got 'gelu'"),
        (dict(optimizer="lbfgs"), ValueError, "optimizer must be one of"),
        (dict(hidden=0), ValueError, "hidden must be a whole number from 1 to 32, got 0"),
        (dict(hidden=2.5), TypeError, "hidden must be a whole number, got float 2.5"),
        (dict(hidden=True), TypeError, "hidden must be a whole number, got bool True"),
        (dict(lr=0), ValueError, "lr must be a finite number > 0, <= 10, got 0"),
        (dict(lr=float("nan")), ValueError, "got nan"),
        (dict(seed="1"), TypeError, "seed must be a whole number, got str '1'"),
    ]:
        with pytest.raises(error) as raised:
            pg.configure(**bad)
        assert message in str(raised.value)
        assert pg.settings == settings and pg.history is history and pg.steps == 3
    with pytest.raises(TypeError, match="no setting colour"):
        pg.configure(colour="red")
    with pytest.raises(ValueError, match="steps must be a whole number >= 0"):
        pg.train(-1)
    with pytest.raises(TypeError, match="steps must be a whole number"):
        pg.train(2.0)


def test_a_step_that_overflows_is_refused_and_changes_nothing():
    pg = Playground(dataset="moons", activation="relu", optimizer="momentum", n=20)
    pg.train(2)
    for p in pg.model.parameters():
        p.data = 1e160  # the output layer's products overflow a float
    state = [p.data for p in pg.model.parameters()], dict(pg.optimizer.__dict__), list(pg.history["loss"])
    with pytest.raises(NonFiniteError, match="training diverged at step 3 .*lower the learning rate"):
        pg.step()
    assert ([p.data for p in pg.model.parameters()], pg.history["loss"]) == (state[0], state[2])
    assert pg.optimizer.steps == state[1]["steps"]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_predict_is_the_models_own_forward(activation):
    pg = Playground(dataset="moons", activation=activation, hidden=5, n=30, seed=2)
    pg.train(5)
    weights, grads = [p.data for p in pg.model.parameters()], [p.grad for p in pg.model.parameters()]
    with no_grad():
        for x in pg.X:
            assert pg.predict(*x) == pg.model(x).sigmoid().data  # the same computation, bit for bit
    assert pg.predict(0.3, -0.2) == 1 / (1 + math.exp(-pg.model([0.3, -0.2]).data))
    assert [p.data for p in pg.model.parameters()] == weights and [p.grad for p in pg.model.parameters()] == grads


def test_boundary_grid_covers_the_data_and_holds_the_predictions():
    pg = Playground(dataset="circles", hidden=4, n=30, seed=1)
    pg.train(3)
    xs, ys, grid = pg.boundary_grid(7)
    x0, x1, y0, y1 = pg.bounds()
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (x0, x1, y0, y1) and len(xs) == len(ys) == 7
    assert x0 < min(p[0] for p in pg.X) and x1 > max(p[0] for p in pg.X)
    assert len(grid) == 7 and all(len(row) == 7 for row in grid)
    assert grid[2][5] == pg.predict(xs[5], ys[2])  # row j is y, column i is x
    with pytest.raises(ValueError, match="resolution must be a whole number from 2 to 500, got 1"):
        pg.boundary_grid(1)


def test_the_logic_imports_no_pictures_widgets_or_ui():
    code = ("import sys, nn.playground; heavy = ('matplotlib', 'ipywidgets', 'IPython', 'graphviz', 'nn.ui'); "
            "print([m for m in heavy if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_figure_shows_the_loss_curve_and_the_boundary_with_every_point(tmp_path):
    pg = Playground(dataset="circles", hidden=4, n=30)
    pg.train(12)
    svg = figure(pg).svg
    root = ElementTree.fromstring(svg)  # well-formed SVG
    (curve,) = [e for e in root.iter(SVG + "polyline") if e.get("class") == "curve"]
    heights = [float(xy.split(",")[1]) for xy in curve.get("points").split()]
    assert len(heights) == 12
    losses = pg.history["loss"]
    # SVG's y grows downwards: the curve is highest where the loss is largest, and so on
    assert sorted(range(12), key=lambda i: heights[i]) == sorted(range(12), key=lambda i: -losses[i])
    assert len([e for e in root.iter(SVG + "circle") if e.get("class") == "point"]) == 30
    assert "decision boundary" in svg and f"loss {pg.loss:.4f} after 12 steps" in svg
    assert figure(pg).save(tmp_path / "f.svg").read_text() == svg
    with pytest.raises(ValueError, match="a chart is saved as .svg, got"):
        figure(pg).save(tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()


def test_the_boundary_field_is_shaded_by_probability_with_its_half_contour():
    xs, ys = [0.0, 1.0, 2.0], [0.0, 1.0]
    grid = [[0.0, 0.5, 1.0], [0.0, 0.25, 1.0]]
    root = ElementTree.fromstring(plane_chart([[0.0, 0.0], [2.0, 1.0]], [0, 1], field=(xs, ys, grid)).svg)
    fills = [e.get("fill") for e in root.iter(SVG + "rect") if e.get("fill", "").startswith("#")]
    assert {"#2166ac", "#f7f7f7", "#b2182b"} <= set(fills)  # 0 blue, ½ white, 1 red
    (contour,) = [e for e in root.iter(SVG + "path") if e.get("class") == "contour"]
    assert contour.get("d").count("M") == 2  # the ½ line crosses both cells once
    assert [field_colour(p) for p in (-1.0, 2.0, float("nan"))] == ["#2166ac", "#b2182b", "#f7f7f7"]


def test_nice_ticks_are_round_numbers_inside_the_range():
    assert nice_ticks(0, 1) == [0, 0.5, 1.0]
    assert nice_ticks(0, 1, count=11) == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert nice_ticks(-0.37, 1.37) == [0, 0.5, 1.0]
    assert nice_ticks(1, 150) == [50, 100, 150]
    assert nice_ticks(3, 3) == [3]


def test_graph_draws_one_node_per_neuron_and_leaves_the_gradients_alone():
    pg = Playground(dataset="xor", hidden=3)
    pg.step()
    grads = [p.grad for p in pg.model.parameters()]
    source = network_graph(pg).source
    for name in ["layers.0.neurons.0", "layers.0.neurons.1", "layers.0.neurons.2", "layers.1.neurons.0"]:
        assert source.count(f'label="{name}\\n') == 1, name
    assert "L0·n1·w0" in source and "loss" in source
    assert [p.grad for p in pg.model.parameters()] == grads
    assert "<svg" in network_graph(pg).svg()


def test_the_live_loop_trains_until_paused():
    pg = Playground(dataset="xor")
    live = LiveTraining(pg)

    async def session():
        task = live.start(refresh_every=0.01)
        assert live.running and live.start() is task  # a second Train click does not start a second loop
        await asyncio.sleep(0.05)
        live.pause()
        await task

    asyncio.run(session())
    assert not live.running and pg.steps >= 1
    steps = pg.steps
    pg.step()
    assert pg.steps == steps + 1


def test_the_live_loop_stops_on_divergence_and_reports_it():
    pg = Playground(dataset="moons", activation="relu", optimizer="momentum", n=20)
    for p in pg.model.parameters():
        p.data = 1e160  # the first step overflows
    messages, stopped = [], []
    asyncio.run(run_live(LiveTraining(pg, on_error=messages.append, on_stop=lambda: stopped.append(True))))
    assert pg.steps == 0 and stopped == [True] and len(messages) == 1
    assert messages[0].startswith("training diverged at step 1")
    with pytest.raises(NonFiniteError, match="training diverged at step 1"):  # without on_error the task raises it
        asyncio.run(run_live(LiveTraining(pg)))


async def run_live(live):
    await live.start(refresh_every=0.01)


def test_the_widget_buttons_and_controls_drive_the_playground():
    pytest.importorskip("ipywidgets")
    pg = Playground(dataset="xor", hidden=3)
    ui = PlaygroundWidget(pg)
    assert "step 0 · loss" in ui.status.value and ui.boundary_image.value.startswith("<svg") and "decision boundary" in ui.boundary_image.value
    assert "<svg" in ui.graph.value and "XOR truth table" in ui.table.value
    width, height = map(float, re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', ui.graph.value).groups())
    assert width <= 660 and height <= 460  # scaled to fit the page, viewBox untouched
    assert re.search(r'viewBox="[^"]*"', ui.graph.value)[0] == re.search(r'viewBox="[^"]*"', network_graph(pg).svg())[0]

    ui.step_button.click()
    ui.step_button.click()
    assert pg.steps == 2 and "step 2 · loss" in ui.status.value

    ui.dataset.value = "moons"
    assert pg.settings["dataset"] == "moons" and pg.steps == 0 and ui.table.value == ""
    ui.hidden.value = 5
    assert len(pg.model.layers[0].neurons) == 5

    ui.step_button.click()
    ui.reset_button.click()
    assert pg.steps == 0 and "step 0 · loss" in ui.status.value


def test_a_chart_shows_its_size_not_a_memory_address():
    from nn.ui import plane_chart

    chart = plane_chart([[0.0, 0.0], [1.0, 1.0]], [0, 1], title="two points", width=200, height=100)
    assert repr(chart) == "<Chart 200×100 SVG; .save('chart.svg')>"  # saved notebooks stay the same run to run


def test_a_line_chart_gives_up_to_six_curves_colours_of_their_own():
    from nn.ui.charts import line_chart

    svg = line_chart({f"curve {k}": [1.0, 2.0, 3.0] for k in range(6)}).svg
    colours = re.findall(r'<polyline class="curve" fill="none" stroke="([^"]+)"', svg)
    assert len(colours) == 6 and len(set(colours)) == 6
