"""The ``scalargrad`` command: the installed console script and ``nn.cli.main``."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nn import cli

SCRIPT = Path(sys.executable).parent / "scalargrad"


def run_script(*args):
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=120)


def table_rows(stdout):
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and all(p.replace(".", "").isdigit() for p in parts):
            rows.append(([float(parts[0]), float(parts[1])], int(parts[2]), float(parts[3])))
    return rows


def test_installed_console_script_trains_xor_and_prints_the_truth_table():
    result = run_script("xor")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == "XOR: MLP 2 → 4 → 1 (tanh, sigmoid output), adam lr=0.1, 200 epochs, seed 0"
    rows = table_rows(out)
    assert [(x, t) for x, t, _ in rows] == [([0, 0], 0), ([0, 1], 1), ([1, 0], 1), ([1, 1], 0)]
    assert all(abs(o - t) < 0.1 for _, t, o in rows)
    last = out.splitlines()[-1].split()
    assert last[:2] == ["final", "loss"] and float(last[2]) < 0.05 and last[3:] == ["accuracy", "1.00"]
    assert "training" in result.stderr and "200/200" in result.stderr  # the tqdm bar goes to stderr


def test_installed_console_script_refuses_bad_options_with_status_2():
    result = run_script("xor", "--lr", "-1")
    assert result.returncode == 2
    assert "usage: scalargrad xor" in result.stderr
    assert "argument --lr: must be a finite number > 0, <= 1000, got -1.0" in result.stderr
    assert result.stdout == ""


def test_options_change_the_run_and_same_seed_gives_the_same_output(capsys):
    argv = ["xor", "--hidden", "3", "--activation", "relu", "--optimizer", "sgd", "--lr", "0.5", "--epochs", "50", "--seed", "3", "--no-progress"]
    assert cli.main(argv) == 0
    first = capsys.readouterr()
    assert first.out.startswith("XOR: MLP 2 → 3 → 1 (relu, sigmoid output), sgd lr=0.5, 50 epochs, seed 3\n")
    assert first.err == ""
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == first.out
    assert cli.main(argv[:-2] + ["4", "--no-progress"]) == 0
    assert capsys.readouterr().out != first.out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["xor", "--activation", "gelu"], "argument --activation: invalid choice: 'gelu'"),
        (["xor", "--activation", "tnah"], "invalid choice: 'tnah' (choose from 'relu', 'tanh', 'sigmoid'); did you mean 'tanh'?"),
        (["xor", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        (["xor", "--epochs", "0"], "argument --epochs: must be a whole number from 1 to 100000, got 0"),
        (["xor", "--epochs", "10000000"], "argument --epochs: must be a whole number from 1 to 100000, got 10000000"),
        (["xor", "--epochs", "2.5"], "argument --epochs: expected a whole number, got '2.5'"),
        (["xor", "--hidden", "4,x"], "argument --hidden: expected layer widths such as 4 or 16,16, got '4,x'"),
        (["xor", "--hidden", "0"], "argument --hidden: each layer width must be a whole number from 1 to 1024, got 0"),
        (["xor", "--hidden", "100000000"], "each layer width must be a whole number from 1 to 1024, got 100000000"),
        (["xor", "--hidden", "1,1,1,1,1,1,1,1,1"], "argument --hidden: at most 8 hidden layers, got 9"),
        (["xor", "--hidden", "1000,1000"], "--hidden 1000,1000 gives an MLP of 1,005,001 parameters; the limit is 100,000"),
        (["xor", "--lr", "nan"], "argument --lr: must be a finite number > 0, <= 1000, got nan"),
        (["xor", "--lr", "1e309"], "argument --lr: must be a finite number > 0, <= 1000, got inf"),
        (["xor", "--lr", "0"], "argument --lr: must be a finite number > 0, <= 1000, got 0.0"),
        (["xor", "--seed", "one"], "argument --seed: expected a whole number, got 'one'"),
        (["xor", "--seed", "-1"], "argument --seed: must be a whole number from 0 to 4294967295, got -1"),
        (["xor", "--seed", "9" * 5000], "argument --seed: expected a whole number, got '9999"),
        (["xor", "--hiden", "8"], "scalargrad xor: error: unrecognized arguments: --hiden 8; did you mean --hidden?"),
        (["xor", "--epocs=3"], "unrecognized arguments: --epocs=3; did you mean --epochs?"),
        (["train"], "the following arguments are required: --data"),
        (["train", "--data", "mnist"], "argument --data: invalid choice: 'mnist'"),
        (["train", "--data", "spiral", "--classes", "1"], "argument --classes: must be a whole number from 2 to 100, got 1"),
        (["train", "--data", "spiral", "--classes", "1000000"], "argument --classes: must be a whole number from 2 to 100, got 1000000"),
        (["train", "--data", "spiral", "--n", "5", "--classes", "10"], "--n 5 is fewer points than --classes 10"),
        (["train", "--data", "spiral", "--hidden", "300,300", "--classes", "100"], "gives an MLP of 121,300 parameters; the limit is 100,000"),
        (["train", "--data", "moons", "--n", "1"], "argument --n: must be a whole number from 2 to 10000, got 1"),
        (["train", "--data", "moons", "--n", "100000000"], "argument --n: must be a whole number from 2 to 10000, got 100000000"),
        (["train", "--data", "moons", "--noise", "-1"], "argument --noise: must be a finite number from 0 to 10, got -1.0"),
        (["train", "--data", "moons", "--batch-size", "0"], "argument --batch-size: must be a whole number from 1 to 10000, got 0"),
        (["train", "--data", "moons", "--no-progess"], "unrecognized arguments: --no-progess; did you mean --no-progress?"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["trian"], "invalid choice: 'trian' (choose from 'xor', 'train', 'draw'); did you mean 'train'?"),
    ],
)
def test_bad_options_get_one_line_naming_the_bound_and_status_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err
    assert err.count("error:") == 1 and "Traceback" not in err
    command = argv[0] if argv[0] in ("xor", "train") else ""
    assert f"usage: scalargrad {command}".rstrip() in err  # the subcommand's usage, not the top level's


def test_bare_scalargrad_lists_its_commands(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main([])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    listed = {line.split()[0] for line in err.splitlines() if line.startswith("    ") and line.split()}
    assert {"xor", "train", "draw"} <= listed
    assert "scalargrad COMMAND -h" in err


def test_train_on_other_datasets(capsys):
    assert cli.main(["train", "--data", "or", "--hidden", "4", "--epochs", "100", "--lr", "0.1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert [t for _, t, _ in table_rows(out)] == [0, 1, 1, 1] and out.rstrip().endswith("accuracy 1.00")
    assert cli.main(["train", "--data", "spiral", "--n", "30", "--hidden", "8", "--epochs", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("spiral (30 points, 3 classes): MLP 2 → 8 → 3") and "final loss" in out
    assert cli.main(["train", "--data", "moons", "--n", "20", "--hidden", "4", "--epochs", "2", "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith("moons (20 points): MLP 2 → 4 → 1")


def test_divergence_is_reported_with_the_epoch_and_status_1(capsys):
    argv = ["xor", "--activation", "relu", "--optimizer", "adamw", "--lr", "1000", "--hidden", "8,8", "--no-progress"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"scalargrad xor: error: training diverged in epoch \d+ of 200: .*\n", err)


def test_a_run_whose_loss_does_not_fall_says_so_and_exits_1(capsys):
    assert cli.main(["xor", "--lr", "100", "--optimizer", "sgd", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    final = float(out.splitlines()[-1].split()[2])
    started = float(err.split("no lower than it started (")[1].split(")")[0])
    assert final >= started
    assert err.startswith(f"scalargrad xor: error: training failed: the loss ended at {final:.4g}, no lower than it started")
    assert "smaller --lr" in err and err.count("\n") == 1
    assert cli.main(["xor", "--epochs", "20", "--no-progress"]) == 0  # a run that learns something exits 0


def test_installed_console_script_draws_an_expression(tmp_path):
    target = tmp_path / "graph.svg"
    result = run_script("draw", "(x + y) * z", "x=-2", "y=5", "z=-4", "-o", str(target))
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.split()}
    assert rows["x"][-1] == "-4" and rows["y"][-1] == "-4" and rows["z"][-1] == "3"
    assert target.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_installed_console_script_refuses_code_in_draw_with_status_2(tmp_path):
    target = tmp_path / "graph.svg"
    result = run_script("draw", "__import__('os').system('id')", "-o", str(target))
    assert result.returncode == 2
    assert "__import__" in result.stderr and "uid=" not in result.stdout + result.stderr
    assert not target.exists()


def test_scalargrad_never_imports_nn():
    code = "import sys, scalargrad, scalargrad.cli; assert 'nn' not in sys.modules, sorted(m for m in sys.modules if m.startswith('nn'))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0


@pytest.mark.parametrize("argv", [["xor", "--no-progress=yes"], ["xor", "--no-progress=0"], ["draw", "x", "x=1", "--edge-labels=false"]])
def test_flags_take_no_value(capsys, argv):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2 and "ignored explicit argument" in capsys.readouterr().err


def test_a_terminal_without_unicode_gets_escapes_not_a_traceback():
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    done = subprocess.run([str(SCRIPT), "xor", "--epochs", "3", "--no-progress"], capture_output=True, text=True, env=env, timeout=120)
    assert done.stdout.startswith("XOR: MLP 2 \\u2192 4 \\u2192 1") and "Traceback" not in done.stderr
    assert done.returncode in (0, 1)


def test_ctrl_c_during_training_is_one_line_and_status_130(capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "fit", interrupted)
    assert cli.main(["xor", "--no-progress"]) == 130
    assert capsys.readouterr().err == "scalargrad xor: interrupted\n"
