"""The ``scalargrad`` command line fuzzed with random argument lists: the exit status is 0, 1 or 2,
never a traceback, and a refusal is one ``error:`` line.

Most cases run ``nn.cli.main`` in this process with its output captured; a few run the installed
console script in a subprocess with a timeout. Training runs are kept small by budget options
appended after the random ones (argparse keeps the last value of an option, but checks every
value given, so a bad random value is still refused)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nn import cli

SCRIPT = Path(sys.executable).parent / "scalargrad"
HANG_GUARD = 60  # seconds: a case still running after this is a hang, not a slow run

NUMBERS = ["0", "-1", "1", "2", "3", "17", "18", "0.5", "1e-9", "1e309", "-1e309", "nan", "inf", "-0", "2.5",
           "1024", "1025", "100000", "100001", "4294967296", "9" * 40, "", " ", "x", "1,2", "0x10", "\udcff", "٣"]
OPTIONS_TRAIN = ["--hidden", "--activation", "--optimizer", "--lr", "--epochs", "--seed", "--no-progress",
                 "--data", "--n", "--noise", "--classes", "--batch-size", "--hiden", "--lr=", "-h", "--", "-"]
CHOICES = ["relu", "tanh", "sigmoid", "gelu", "sgd", "adam", "adamw", "rmsprop", "adagrad", "xor", "and", "or",
           "moons", "circles", "spiral", "mnist", "4,4", "0,3", "1,1,1,1,1,1,1,1,1", "300,300", "1000,1000"]
OPTIONS_DRAW = ["--rankdir", "--digits", "--edge-labels", "--max-nodes", "--digts", "LR"]
EXPRESSIONS = ["(x + y) * z", "x", "x * x", "exp(x) / y", "log(x)", "x ** 2", "x ** y", "max(x, y)", "relu(x) - tanh(y)",
               "__import__('os')", "x.y", "x +", "1e308 * 10 * x", "9 ** 9 ** 9 * x", "(-8) ** 0.5 + x", "sigmoid()",
               "x + \udcff", "x\x00", "(" * 250 + "x" + ")" * 250, "+".join(["x"] * 999), "+".join(["x"] * 1001),
               "-" * 50 + "x", "x / 0", "x * y * x * y"]
ASSIGNMENTS = ["x=1", "y=2", "z=-4", "x=0", "y=0", "x=nan", "x=1e309", "x", "=1", "exp=1", "\udcff=1", "x=1", "w=3"]

token = st.one_of(st.sampled_from(NUMBERS), st.sampled_from(CHOICES), st.text(max_size=12),
                  st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(repr))
GOOD = {  # values each option accepts, so that many fuzzed runs get past the checks and train or draw
    "--hidden": ["1", "3", "2,2"], "--activation": ["relu", "tanh", "sigmoid"], "--optimizer": ["sgd", "adam", "adamw", "rmsprop", "adagrad"],
    "--lr": ["0.01", "0.5", "100", "1000"], "--seed": ["0", "7"], "--data": ["xor", "and", "or", "moons", "circles", "spiral"],
    "--noise": ["0", "0.3", "10"], "--classes": ["2", "3"], "--epochs": ["1", "2"], "--n": ["4", "12"], "--batch-size": ["1", "5"],
    "--rankdir": ["LR", "TB"], "--digits": ["1", "4", "17"], "--max-nodes": ["3", "500", "5000"],
}


@st.composite
def option_list(draw, options):
    """Option/value pairs: mostly a value the option accepts, sometimes any token; now and then a stray token."""
    argv = []
    for _ in range(draw(st.integers(0, 5))):
        option = draw(st.sampled_from(options))
        argv.append(option)
        if option in GOOD:
            argv.append(draw(st.one_of(st.sampled_from(GOOD[option]), token) if draw(st.booleans()) else st.sampled_from(GOOD[option])))
        elif draw(st.integers(0, 4)) == 0:
            argv.append(draw(token))
    return argv


train_args = option_list(OPTIONS_TRAIN)
leaf = st.sampled_from(["x", "y", "2", "0.5", "1e308"])
expression = st.recursive(leaf, lambda e: st.one_of(
    st.tuples(e, st.sampled_from(["+", "-", "*", "/", "**"]), e).map(" ".join).map("({})".format),
    st.tuples(st.sampled_from(["exp", "log", "relu", "tanh", "sigmoid", "-"]), e).map(lambda t: f"{t[0]}({t[1]})"),
    st.tuples(e, e).map(lambda t: f"max({t[0]}, {t[1]})"),
), max_leaves=12)
draw_args = st.tuples(
    st.one_of(expression, expression, st.sampled_from(EXPRESSIONS), st.text(max_size=30)),
    st.one_of(st.none(), st.none(), st.lists(st.one_of(st.sampled_from(ASSIGNMENTS), token), max_size=3)),  # None: x=0.5 y=2 as used
    option_list(OPTIONS_DRAW),
    st.sampled_from([None, None, "g.svg", "g.svg", "g.dot", "g.html", "g.png", "g.jpg", "missing/g.svg", "", "/proc/g.svg", ".svg",
                     "a" * 300 + ".svg", "g\0.svg", "/dev/null/g.svg"]),
)


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``nn.cli.main(argv)`` in this process."""
    out, err = io.StringIO(), io.StringIO()

    def hang(signum, frame):
        raise TimeoutError(f"scalargrad {argv!r} still running after {HANG_GUARD} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_GUARD)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = cli.main(argv)
            except SystemExit as exit_:
                status = exit_.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, out.getvalue(), err.getvalue()


def assert_clean(status, out: str, err: str) -> None:
    """Exit 0, 1 or 2; no traceback; a refusal or a failed run ends with its one ``error:`` line."""
    assert status in (0, 1, 2), status
    assert "Traceback" not in out + err
    last = err.rstrip().splitlines()[-1] if err.strip() else ""
    if status == 2 and "commands:" not in err:  # bare `scalargrad` shows the help instead
        assert err.count("error:") == 1 and last.startswith("scalargrad") and "error:" in last, err
    if status == 1:
        assert err.count("error:") == 1 and last.startswith("scalargrad ") and "error: training" in last, err


# CLI_FUZZ_EXAMPLES=2000 for a longer hunt than the suite's
FUZZ = settings(max_examples=int(os.environ.get("CLI_FUZZ_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@FUZZ
@given(command=st.sampled_from(["xor", "train"]), args=train_args, data=st.sampled_from(["xor", "moons", "spiral", None]))
def test_training_commands_exit_0_1_or_2_and_never_a_traceback(command, args, data):
    argv = [command, *args]
    if command == "train" and data:
        argv[1:1] = ["--data", data]
    budget = ["--epochs", "2", "--hidden", "3", "--no-progress"] + (["--n", "12", "--batch-size", "12"] if command == "train" else [])
    status, out, err = run_main(argv + budget)
    event(f"exit {status}")
    assert_clean(status, out, err)


@FUZZ
@given(case=draw_args)
def test_draw_exits_0_or_2_and_never_a_traceback(case, tmp_path_factory):
    expression, assignments, options, output = case
    if assignments is None:
        assignments = [a for a in ("x=0.5", "y=2") if a[0] in expression]
    folder = tmp_path_factory.mktemp("draw")
    argv = ["draw", expression, *assignments, *options]
    target = output if output is None or output.startswith("/") else str(folder / output)
    if target is not None:
        argv += ["-o", target]
    status, out, err = run_main(argv)
    event(f"exit {status}" + (" (a file written)" if any(folder.rglob("*")) else ""))
    assert_clean(status, out, err)
    assert status in (0, 2)
    if status == 2:
        assert not any(folder.rglob("*")), "a refused draw wrote a file"
        shown = err.splitlines()[-1].replace(repr(target), "")  # the user's path is named in full
        assert len(shown) < 400, "a refusal echoes its input whole"


@settings(max_examples=40, deadline=None)
@given(argv=st.lists(st.one_of(st.sampled_from(["xor", "train", "draw", "frobnicate"]), st.sampled_from(OPTIONS_TRAIN + OPTIONS_DRAW), token), max_size=6))
def test_any_argument_list_exits_0_1_or_2(argv):
    if argv and argv[0] in ("xor", "train"):
        argv = argv + ["--epochs", "2", "--hidden", "3", "--n", "12", "--no-progress"]
        if argv[0] == "xor":
            argv = [a for a in argv if a not in ("--n", "12")]
    status, out, err = run_main(argv)
    event(f"exit {status}")
    assert_clean(status, out, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["xor", "--hiden", "8"],
        ["xor", "--epochs", "3", "--hidden", "2", "--no-progress"],
        ["xor", "--lr", "100", "--optimizer", "sgd", "--epochs", "20", "--no-progress"],
        ["draw", "+".join(["x"] * 40_000), "x=1"],
        ["draw", "x + \udcff", "x=1"],
        [],
    ],
)
def test_console_script_runs_exit_0_1_or_2_within_a_timeout(argv):
    done = subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, timeout=HANG_GUARD, errors="backslashreplace")
    assert_clean(done.returncode, done.stdout, done.stderr)
