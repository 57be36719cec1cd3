"""``scalargrad draw "EXPR" NAME=VALUE ... -o FILE``: outputs, gradient table and refusals."""

import os
import subprocess
import sys

import pytest
from draw_helpers import dot_nodes, svg_texts, texts_missing_from_png, without_text

from scalargrad.cli import main
from scalargrad.pictures.render import render_png


def run(capsys, *argv):
    """(exit status, stdout, stderr) of the draw command."""
    try:
        status = main(["draw", *argv])
    except SystemExit as exit_:
        status = exit_.code
    out, err = capsys.readouterr()
    return status, out, err


def table(out):
    """{variable: (value, gradient)} from the printed table."""
    rows = [line.split() for line in out.splitlines()[3:] if line and not line.startswith("wrote")]
    return {name: (value, grad) for name, value, grad in rows}


def test_lecture_example_prints_gradients_and_writes_svg(capsys, tmp_path):
    target = tmp_path / "graph.svg"
    status, out, err = run(capsys, "(x + y) * z", "x=-2", "y=5", "z=-4", "-o", str(target))
    assert status == 0 and err == ""
    assert out.splitlines()[0] == "f = (x + y) * z = -12"
    assert table(out) == {"x": ("-2", "-4"), "y": ("5", "-4"), "z": ("-4", "3")}
    assert out.splitlines()[-1] == f"wrote {target}"
    assert {"x", "data -2", "grad -4", "+", "*", "data -12", "grad 1"} <= set(svg_texts(target.read_text()))


def test_sigmoid_neuron_gradients(capsys):
    status, out, _ = run(capsys, "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))", "w0=2", "x0=-1", "w1=-3", "x1=-2", "w2=-3", "--digits", "2")
    assert status == 0
    assert out.splitlines()[0].endswith("= 0.73")
    assert table(out) == {"w0": ("2", "-0.2"), "x0": ("-1", "0.39"), "w1": ("-3", "-0.39"), "x1": ("-2", "-0.59"), "w2": ("-3", "0.2")}


def test_every_function_and_operator_is_accepted(capsys):
    status, out, _ = run(capsys, "max(relu(x), tanh(y)) + sigmoid(x) * log(y) - -x / 2 ** 1 + y ** 2 + exp(+x)", "x=0.5", "y=2")
    assert status == 0 and set(table(out)) == {"x", "y"}


@pytest.mark.parametrize("ext", ["png", "dot", "html"])
def test_other_outputs(capsys, tmp_path, ext):
    target = tmp_path / f"graph.{ext}"
    status, _, _ = run(capsys, "x * y", "x=3", "y=4", "-o", str(target), "--rankdir", "TB", "--edge-labels")
    assert status == 0
    data = target.read_bytes()
    if ext == "png":
        assert data.startswith(b"\x89PNG")
    elif ext == "dot":
        labels = {label for label, _ in dot_nodes(data.decode()).values()}
        assert "x | data 3 | grad 4" in labels and "rankdir=TB" in data.decode()
    else:
        page = data.decode()
        assert page.count("<svg") == 1 and 'type="range" min="1" max="3"' in page  # x, y, x*y: one step per node


INJECTIONS = [
    ("__import__('os').system('id')", "may be called"),
    ("x.__class__", "attribute access"),
    ("(lambda: 1)() + x", "may be called"),
    ("lambda: x", "lambda"),
    ("[x][0]", "subscripts"),
    ("x if x else x", "if/else"),
    ("x < 1", "comparisons"),
    ("'a' + x", "the constant 'a' is not a number"),
    ("x // 2", "the operator //"),
    ("open('f')", "may be called"),
    ("exp(x, y)", "exp takes 1 argument, got 2"),
    ("max(x, y=1)", "max takes no keyword arguments"),
    ("__builtins__", "the name '__builtins__'"),
    ("(y := x)", "assignment"),
    ("exp", "the function 'exp' must be called"),
    ("x ** y", "the exponent of ** must be a number"),
    ("x = 1", "not a valid expression"),
    ("x +", "not a valid expression"),
]


@pytest.mark.parametrize("expression, reason", INJECTIONS)
def test_refusals_name_the_offence_exit_2_and_write_nothing(capsys, tmp_path, expression, reason):
    target = tmp_path / "graph.svg"
    status, out, err = run(capsys, expression, "x=1", "y=2", "-o", str(target))
    assert status == 2 and out == ""
    assert reason in err
    assert not target.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["x * y", "x=1"], "no value given for the variable 'y'; add y=NUMBER"),
        (["x", "x=1", "w=2"], "w=2 is given, but the expression has no variable 'w'"),
        (["x", "x=abc"], "the value of x must be a number, got 'abc'"),
        (["x", "x=nan"], "must be a finite number, got 'nan'"),
        (["x", "x"], "'x' is not NAME=VALUE"),
        (["x", "x=1", "x=2"], "'x' is given twice"),
        (["exp(x)", "exp=1", "x=1"], "'exp' is a function name"),
        (["2 + 3"], "has no variables"),
        (["log(x)", "x=0"], "log needs x > 0"),
        (["x / y", "x=1", "y=0"], "1/x needs x ≠ 0"),
        (["9 ** 9 ** 9 * x", "x=1"], "overflows a float"),
        (["(-8) ** 0.5 + x", "x=1"], "is not a real number"),
        (["x", "x=1", "-o", "graph.jpg"], "must end in one of .svg, .png, .dot, .html"),
        (["x", "x=1", "-o", "no/such/folder/g.svg"], "the output folder 'no/such/folder' does not exist"),
        (["tanh(tanh(tanh(x)))", "x=1", "-o", "OUT.svg", "--max-nodes", "3"], "4 value nodes, more than max_nodes=3"),
    ],
)
def test_bad_values_and_outputs_are_refused(capsys, tmp_path, monkeypatch, argv, reason):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and reason in err
    assert list(tmp_path.iterdir()) == []


def test_pdf_is_not_an_output_of_the_command(capsys, tmp_path):
    status, _, err = run(capsys, "x", "x=1", "-o", str(tmp_path / "g.pdf"))
    assert status == 2 and ".svg, .png, .dot, .html" in err


def test_without_output_only_the_table_is_printed(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "x * x", "x=3")
    assert status == 0 and table(out) == {"x": ("3", "6")} and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fresh_machine", [True, False])
def test_png_output_draws_every_text(capsys, tmp_path, monkeypatch, fresh_machine, machine_fonts):
    if fresh_machine:
        monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz: the built-in one draws (machine_fonts: no fonts either)
    argv = ["(x + y) * z", "x=-2", "y=5", "z=-4", "--edge-labels", "-o"]
    assert run(capsys, *argv, str(tmp_path / "graph.png"))[0] == 0
    assert run(capsys, *argv, str(tmp_path / "graph.svg"))[0] == 0
    svg = (tmp_path / "graph.svg").read_text()
    text_free = render_png(without_text(svg))
    assert texts_missing_from_png(text_free, svg, text_free) == svg_texts(svg)  # what a PNG without text looks like
    assert texts_missing_from_png((tmp_path / "graph.png").read_bytes(), svg, text_free) == []


def test_python_dash_m_scalargrad_without_dot_on_path(tmp_path):
    env = {**os.environ, "PATH": str(tmp_path)}  # a fresh machine: no Graphviz
    target = tmp_path / "g.png"
    done = subprocess.run([sys.executable, "-m", "scalargrad", "draw", "(x + y) * z", "x=-2", "y=5", "z=-4", "-o", str(target)],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "x         -2     -4" in done.stdout
    assert target.read_bytes().startswith(b"\x89PNG")
    refused = subprocess.run([sys.executable, "-m", "scalargrad", "draw", "__import__('os').system('id')"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and "uid=" not in refused.stdout + refused.stderr


def test_register_adds_draw_to_another_command():
    import argparse

    from scalargrad.cli import register

    parser = argparse.ArgumentParser(prog="scalargrad")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["draw", "x * 2", "x=1"])
    assert args.command == "draw" and args.expression == "x * 2" and args.values == ["x=1"]
    assert args.run(args) == 0


@pytest.mark.parametrize(
    "options, reason",
    [
        (["--digits", "-1"], "argument --digits: must be a whole number from 1 to 17, got -1"),
        (["--digits", "0"], "argument --digits: must be a whole number from 1 to 17, got 0"),
        (["--digits", "18"], "argument --digits: must be a whole number from 1 to 17, got 18"),
        (["--digits", "four"], "argument --digits: expected a whole number, got 'four'"),
        (["--max-nodes", "0"], "argument --max-nodes: must be a whole number from 1 to 5000, got 0"),
        (["--max-nodes", "10" * 30], "argument --max-nodes: must be a whole number from 1 to 5000, got 1010"),
        (["--digts", "3"], "unrecognized arguments: --digts 3; did you mean --digits?"),
        (["--rankdir", "lr"], "invalid choice: 'lr' (choose from 'LR', 'TB'); did you mean 'LR'?"),
    ],
)
def test_number_options_are_bounded_before_any_work(capsys, tmp_path, options, reason):
    target = tmp_path / "g.svg"
    status, out, err = run(capsys, "x * y", "x=1", "y=2", "-o", str(target), *options)
    assert status == 2 and out == "" and reason in err
    assert "usage: scalargrad draw" in err and err.count("error:") == 1
    assert list(tmp_path.iterdir()) == []


def test_every_digits_the_bound_allows_prints(capsys):
    for digits in ("1", "17"):
        status, out, _ = run(capsys, "x / 3", "x=1", "--digits", digits)
        assert status == 0 and table(out)["x"][1] == f"{1 / 3:.{digits}g}"


def test_output_that_is_a_folder_is_refused_naming_the_users_path(capsys, tmp_path):
    folder = tmp_path / "graph.svg"
    folder.mkdir()
    status, out, err = run(capsys, "x", "x=1", "-o", str(folder))
    assert status == 2 and out == ""
    assert f"the output file {str(folder)!r} is a folder" in err and ".tmp" not in err
    assert list(folder.iterdir()) == [] and list(tmp_path.iterdir()) == [folder]


def test_a_write_the_system_refuses_names_the_users_path_not_the_temporary_file(capsys):
    status, out, err = run(capsys, "x", "x=1", "-o", "/proc/graph.svg")  # /proc takes no new files, even from root
    assert status == 2 and out == ""
    assert "cannot write '/proc/graph.svg': " in err and ".tmp" not in err and err.count("error:") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in any folder")
def test_a_folder_without_write_permission_is_refused_before_evaluating(capsys, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        status, out, err = run(capsys, "x", "x=1", "-o", str(folder / "g.svg"))
    finally:
        folder.chmod(0o700)
    assert status == 2 and f"no permission to write in the folder {str(folder)!r}" in err


def test_expression_limits_are_named_as_limits(capsys):
    long_sum = "+".join(["x"] * 40_000)
    status, out, err = run(capsys, long_sum, "x=1")
    assert status == 2 and out == ""
    assert "the expression is 79,999 characters long; the limit is 2,000" in err
    assert "RecursionError" not in err and len(err.splitlines()[-1]) < 200  # the expression is not echoed whole


def test_a_long_chain_within_the_limit_is_evaluated_without_recursion(capsys):
    status, out, _ = run(capsys, "+".join(["x"] * 1000), "x=1")  # 999 nested additions, 1,999 characters
    assert status == 0 and table(out) == {"x": ("1", "1000")}
    status, out, _ = run(capsys, "--", "-" * 998 + "x", "x=2")  # 998 nested negations: -(-(...x))
    assert status == 0 and table(out) == {"x": ("2", "1")}


def test_an_expression_taken_for_an_option_is_not_echoed_whole(capsys):
    status, out, err = run(capsys, "-" * 1998 + "x", "x=2")
    assert status == 2 and "unrecognized arguments: " + "-" * 80 + "…" in err and len(err) < 1000


def test_nesting_beyond_pythons_parser_is_refused_as_a_limit(capsys):
    status, out, err = run(capsys, "(" * 300 + "x" + ")" * 300, "x=1")
    assert status == 2 and out == "" and "too many nested parentheses" in err and err.count("error:") == 1


@pytest.mark.parametrize("expression", ["x + \udcff", "x\udcff", "\ud800"])
def test_a_lone_surrogate_gets_one_clear_line(capsys, tmp_path, expression):
    status, out, err = run(capsys, expression, "x=1", "-o", str(tmp_path / "g.svg"))
    assert status == 2 and out == ""
    assert "is not text (the lone surrogate U+" in err and "UnicodeEncodeError" not in err
    assert err.count("error:") == 1 and list(tmp_path.iterdir()) == []


def test_a_lone_surrogate_in_a_name_is_refused_and_printable(capsys):
    status, out, err = run(capsys, "x", "x=1", "\udcff=2")
    assert status == 2 and "'\\udcff' in '\\udcff=2' is not a variable name" in err
    err.encode("utf-8")  # no lone surrogate reaches the terminal


def test_bare_python_dash_m_scalargrad_lists_the_draw_command():
    done = subprocess.run([sys.executable, "-m", "scalargrad"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "draw" in done.stderr and "Traceback" not in done.stderr


def test_a_file_name_too_long_for_the_file_system_is_one_line_naming_it(capsys, tmp_path):
    target = tmp_path / ("a" * 300 + ".svg")
    status, out, err = run(capsys, "x", "x=1", "-o", str(target))
    assert status == 2 and out == "" and f"cannot write {str(target)!r}: File name too long" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_a_nul_in_the_output_name_is_refused(capsys, tmp_path):
    status, _, err = run(capsys, "x", "x=1", "-o", str(tmp_path / "a\0b.svg"))
    assert status == 2 and "has a NUL character" in err and list(tmp_path.iterdir()) == []
