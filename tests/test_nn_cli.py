"""The ``scalargrad`` command: the installed console script and ``nn.cli.main``."""

import subprocess
import sys
from pathlib import Path

import pytest

import scalargrad.cli
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
    assert "argument --lr: must be a finite number > 0, got '-1'" in result.stderr
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
        ([], "the following arguments are required: COMMAND"),
        (["xor", "--activation", "gelu"], "argument --activation: invalid choice: 'gelu'"),
        (["xor", "--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        (["xor", "--epochs", "0"], "argument --epochs: must be a finite number > 0, got '0'"),
        (["xor", "--epochs", "2.5"], "argument --epochs: expected a int, got '2.5'"),
        (["xor", "--hidden", "4,x"], "argument --hidden: expected layer widths such as 4 or 16,16, got '4,x'"),
        (["xor", "--hidden", "0"], "layer widths must be positive"),
        (["xor", "--lr", "nan"], "argument --lr: must be a finite number > 0"),
        (["xor", "--seed", "one"], "argument --seed: invalid int value: 'one'"),
        (["train"], "the following arguments are required: --data"),
        (["train", "--data", "mnist"], "argument --data: invalid choice: 'mnist'"),
        (["train", "--data", "spiral", "--classes", "1"], "argument --classes: must be a finite number >= 2"),
        (["train", "--data", "moons", "--noise", "-1"], "argument --noise: must be a finite number >= 0.0"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_options_get_argparse_messages_and_status_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exit:
        cli.main(argv)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


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
    argv = ["xor", "--activation", "relu", "--optimizer", "sgd", "--lr", "1e300", "--no-progress"]
    assert cli.main(argv) == 1
    assert "scalargrad xor: error: training diverged in epoch 2 of 200" in capsys.readouterr().err


def test_the_draw_package_registers_its_subcommands(monkeypatch, capsys):
    def register(subparsers):
        p = subparsers.add_parser("draw")
        p.set_defaults(run=lambda args: print("drawn"))

    monkeypatch.setattr(scalargrad.cli, "register", register)
    assert cli.main(["draw"]) == 0
    assert capsys.readouterr().out == "drawn\n"
