"""The XOR playground's logic, without a browser: steps, training, reset, history, pictures, the live loop, the widget."""

from __future__ import annotations

import asyncio
import math
import re

import pytest

from nn import bce_with_logits
from nn.playground import Playground
from scalargrad import NonFiniteError, no_grad


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
    for bad, message in [
        (dict(dataset="iris"), "unknown dataset 'iris'"),
        (dict(activation="gelu"), "unknown activation 'gelu'"),
        (dict(optimizer="lbfgs"), "unknown optimizer 'lbfgs'"),
        (dict(hidden=0), "hidden must be a whole number from 1 to 32, got 0"),
        (dict(hidden=2.5), "got 2.5"),
        (dict(lr=0), "lr must be a number in (0, 10], got 0"),
        (dict(lr=float("nan")), "got nan"),
    ]:
        with pytest.raises(ValueError) as error:
            pg.configure(**bad)
        assert message in str(error.value)
        assert pg.settings == settings and pg.history is history and pg.steps == 3
    with pytest.raises(TypeError, match="no setting colour"):
        pg.configure(colour="red")
    with pytest.raises(ValueError, match="steps must be a whole number"):
        pg.train(-1)


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
    with no_grad():
        for x in pg.X:
            score = pg.model(x).data
            assert pg.predict(*x) == pytest.approx(1 / (1 + math.exp(-score)), rel=1e-12)


def test_figure_shows_the_loss_curve_and_the_boundary_with_every_point():
    pg = Playground(dataset="circles", hidden=4, n=30)
    pg.train(12)
    fig = pg.figure()
    loss_ax, boundary_ax = fig.axes[:2]
    curve = loss_ax.get_lines()[0]
    assert list(curve.get_ydata()) == pg.history["loss"] and len(curve.get_xdata()) == 12
    points = sum(len(c.get_offsets()) for c in boundary_ax.collections if hasattr(c, "get_offsets") and c.get_label().startswith("class"))
    assert points == 30
    assert "decision boundary" in boundary_ax.get_title()


def test_graph_draws_one_node_per_neuron_and_leaves_the_gradients_alone():
    pg = Playground(dataset="xor", hidden=3)
    pg.step()
    grads = [p.grad for p in pg.model.parameters()]
    source = pg.graph().source
    for name in ["layers.0.neurons.0", "layers.0.neurons.1", "layers.0.neurons.2", "layers.1.neurons.0"]:
        assert source.count(f'label="{name}\\n') == 1, name
    assert "L0·n1·w0" in source and "loss" in source
    assert [p.grad for p in pg.model.parameters()] == grads
    assert "<svg" in pg.graph().svg()


def test_the_live_loop_trains_until_paused():
    pg = Playground(dataset="xor")

    async def session():
        task = pg.start(refresh_every=0.01)
        assert pg.running and pg.start() is task  # a second Train click does not start a second loop
        await asyncio.sleep(0.05)
        pg.pause()
        await task

    asyncio.run(session())
    assert not pg.running and pg.steps >= 1
    steps = pg.steps
    pg.step()
    assert pg.steps == steps + 1


def test_the_widget_buttons_and_controls_drive_the_playground():
    pytest.importorskip("ipywidgets")
    pg = Playground(dataset="xor", hidden=3)
    root = pg.widget()
    assert pg.widget() is root
    ui = pg._ui
    assert "step 0 · loss" in ui.status.value and ui.boundary_image.value[:4] == b"\x89PNG"
    assert "<svg" in ui.graph.value and "XOR truth table" in ui.table.value
    width, height = map(float, re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', ui.graph.value).groups())
    assert width <= 660 and height <= 460  # scaled to fit the page, viewBox untouched
    assert re.search(r'viewBox="[^"]*"', ui.graph.value)[0] == re.search(r'viewBox="[^"]*"', pg.graph().svg())[0]

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
