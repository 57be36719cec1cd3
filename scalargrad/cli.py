"""The ``scalargrad draw`` subcommand. The ``scalargrad`` console script itself lives in
``nn/cli.py``, which adds the training commands (``scalargrad`` never imports ``nn``).

``scalargrad draw "(x + y) * z" x=-2 y=5 z=-4 -o graph.svg`` parses the expression with
:mod:`ast` and a whitelist (numbers, variables, ``+ - * / **``, unary minus, and calls of
exp, log, relu, tanh, sigmoid, max) — it is never ``eval``-ed — then runs backward,
prints every variable's gradient and writes the picture.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import math
import operator
import os
import re
import sys
from pathlib import Path

from .engine import checks

FUNCTIONS = {"exp": 1, "log": 1, "relu": 1, "tanh": 1, "sigmoid": 1, "max": 2}
OUTPUTS = (".svg", ".png", ".dot", ".html")
MAX_EXPRESSION_LENGTH = 2_000  # characters: ~1,000 operations, well inside what Python's parser nests
MAX_DIGITS = 17  # a float's repr never needs more significant digits
MAX_DRAW_NODES = 5_000  # the most --max-nodes may allow
ALLOWED = "numbers, variables, + - * / **, unary minus, and calls of " + ", ".join(FUNCTIONS)
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_APPLY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow}


class Refused(ValueError):
    """The command line asks for something the draw command will not do; the message says what."""


class CommandParser(argparse.ArgumentParser):
    """argparse with the help a newcomer needs: bare ``scalargrad`` shows the commands, an unknown
    option is reported with its subcommand's usage and the closest known option, and an invalid
    choice names the closest choice. Every refusal is one ``error:`` line and exit status 2."""

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        if not args:
            self.print_help(sys.stderr)
            self.exit(2)
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            command = getattr(parsed, "command_parser", self)
            given = " ".join(a if a.isprintable() else repr(a) for a in extras)
            given = given if len(given) <= 80 else given[:80] + "…"
            command.error(f"unrecognized arguments: {given}{_closest_option(extras, command)}")
        return parsed

    def error(self, message: str):
        given = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if given:
            choices = {c.strip(" '").lower(): c.strip(" '") for c in given[2].split(",")}
            close = difflib.get_close_matches(given[1].lower(), choices, n=1)
            message += f"; did you mean {choices[close[0]]!r}?" if close else ""
        super().error(message)


def _closest_option(extras: list[str], parser: argparse.ArgumentParser) -> str:
    """"; did you mean --hidden?" for the first unknown option that resembles a known one, else ""."""
    known = [o for action in parser._actions for o in action.option_strings]
    for word in extras:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                return f"; did you mean {close[0]}?"
    return ""


def tolerant_output() -> None:
    """Let characters the terminal's encoding lacks (→, ∂ on an ASCII terminal) print as escapes
    instead of ending the command with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def bounded(kind: type, low=None, high=None, *, low_open: bool = False):
    """An argparse ``type=``: the option's text as ``kind`` (int or float) inside [low, high]
    (or (low, high] with ``low_open``), checked by :mod:`scalargrad.engine.checks`; anything else
    is refused with one line naming the bound, e.g. ``argument --digits: must be a whole number
    from 1 to 17, got -1``."""
    noun = "whole number" if kind is int else "number"

    def parse(text: str):
        try:
            x = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected a {noun}, got {quoted(text)}") from None
        try:
            if kind is int:
                return checks.whole(x, "value", low=low, high=high)
            return checks.number(x, "value", low=-math.inf if low is None else low,
                                 high=math.inf if high is None else high, low_open=low_open)
        except ValueError as error:  # "value must be ...": the option is named by argparse
            raise argparse.ArgumentTypeError(str(error).removeprefix("value ")) from None

    return parse


def quoted(text: str, limit: int = 60) -> str:
    """``text`` quoted for a message (repr: lone surrogates escaped), cut to ``limit`` characters."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "…"


def register(subparsers: "argparse._SubParsersAction") -> None:
    """Add this package's subcommands (``draw``) to the ``scalargrad`` command's parser."""
    parser = subparsers.add_parser(
        "draw",
        help="draw an expression's graph with every node's value and gradient",
        description="Evaluate EXPR at the given values, backpropagate, print each variable's gradient "
        f"and draw the graph. EXPR may use {ALLOWED}.",
        epilog='example: scalargrad draw "(x + y) * z" x=-2 y=5 z=-4 -o graph.svg\n'
        'an expression that starts with - goes after --: scalargrad draw -- "-x * y" x=1 y=2',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("expression", metavar="EXPR", help='the expression, e.g. "(x + y) * z"')
    parser.add_argument("values", metavar="NAME=VALUE", nargs="*", help="a value for each variable, e.g. x=-2")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the picture: .svg, .png, .dot, or .html (backprop step by step)")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="left to right (default) or top to bottom")
    parser.add_argument("--digits", type=bounded(int, 1, MAX_DIGITS), default=4, help=f"significant digits shown, 1 to {MAX_DIGITS} (default 4)")
    parser.add_argument("--edge-labels", action="store_true", help="label edges with local gradient × upstream gradient")
    parser.add_argument("--max-nodes", type=bounded(int, 1, MAX_DRAW_NODES), default=None,
                        help=f"refuse graphs with more value nodes, 1 to {MAX_DRAW_NODES} (default: the drawing's limit)")
    parser.set_defaults(run=lambda args: run_draw(args, parser), command_parser=parser)


def main(argv: list[str] | None = None) -> int:
    """A ``scalargrad`` command with only the ``draw`` subcommand (``python -m scalargrad draw ...``)."""
    tolerant_output()
    parser = CommandParser(prog="scalargrad", description="scalargrad: pictures of backpropagation")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    return args.run(args)


def run_draw(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Carry out ``scalargrad draw``; a refusal prints why and exits with status 2, writing nothing."""
    try:
        output = _check_output(args.output)
        values = parse_assignments(args.values)
        root, variables = evaluate(args.expression, values)
        root.backward()
        written = _write(root, output, args) if output else None
    except Refused as error:
        parser.error(str(error))  # prints usage and the message, exits 2
    except (ArithmeticError, ValueError, TypeError) as error:
        parser.error(f"cannot evaluate {quoted(args.expression)}: {error}")
    print(gradient_table(args.expression, root, variables, args.digits))
    if written:
        print(f"wrote {written}")
    return 0


def _check_output(output: str | None) -> Path | None:
    """The output path, refused (naming it) when it cannot be a picture file we may write."""
    if output is None:
        return None
    path = Path(output)
    if path.suffix.lower() not in OUTPUTS:
        raise Refused(f"the output file {output!r} must end in one of {', '.join(OUTPUTS)}")
    if "\0" in output:
        raise Refused(f"the output file {output!r} has a NUL character, which no file name may have")
    folder = path.parent
    try:
        if path.is_dir():
            raise Refused(f"the output file {output!r} is a folder, not a file")
        if not folder.is_dir():
            raise Refused(f"the output folder {str(folder)!r} does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise Refused(f"cannot write {output!r}: no permission to write in the folder {str(folder)!r}")
    except OSError as error:  # e.g. a name too long for the file system
        raise Refused(f"cannot write {output!r}: {error.strerror or error}") from None
    return path


def _write(root, path: Path, args) -> str:
    from .pictures.drawing import GraphTooLarge, draw
    from .pictures.render import RenderError
    from .pictures.steps import save_steps

    options = dict(rankdir=args.rankdir, digits=args.digits)
    if args.max_nodes is not None:
        options["max_nodes"] = args.max_nodes
    try:
        if path.suffix.lower() == ".html":
            save_steps(root, path, **options)
        else:
            draw(root, edge_labels=args.edge_labels, **options).save(path)
    except (GraphTooLarge, RenderError) as error:
        raise Refused(str(error)) from None
    except OSError as error:  # the write goes through a temporary file: name the user's path, not it
        raise Refused(f"cannot write {str(path)!r}: {error.strerror or error}") from None
    return str(path)


def parse_assignments(items: list[str]) -> dict[str, float]:
    """``["x=-2", "y=5"]`` as ``{"x": -2.0, "y": 5.0}``, refusing anything else by name."""
    values: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise Refused(f"{quoted(item)} is not NAME=VALUE (e.g. x=-2)")
        if not name.isidentifier():
            raise Refused(f"{quoted(name)} in {quoted(item)} is not a variable name")
        if name in FUNCTIONS:
            raise Refused(f"{name!r} is a function name, not a variable")
        if name in values:
            raise Refused(f"{name!r} is given twice")
        try:
            number = float(text)
        except ValueError:
            raise Refused(f"the value of {name} must be a number, got {quoted(text)}") from None
        if not math.isfinite(number):
            raise Refused(f"the value of {name} must be a finite number, got {quoted(text)}")
        values[name] = number
    return values


def evaluate(expression: str, values: dict[str, float]):
    """Build the Value graph of ``expression`` with the given variable values.

    Returns ``(root, {name: Value})``, the variables in the order ``values`` gives them. Anything
    outside the whitelist, an unknown variable or an unused value is ``Refused``.
    """
    from .engine.value import Value

    tree = _parse(expression)
    names = _check_tree(tree, expression)
    if not names:
        raise Refused(f"{quoted(expression)} has no variables: there is nothing to differentiate")
    missing = [n for n in names if n not in values]
    if missing:
        raise Refused(f"no value given for the variable {missing[0]!r}; add {missing[0]}=NUMBER")
    unused = [n for n in values if n not in names]
    if unused:
        raise Refused(f"{unused[0]}={values[unused[0]]:g} is given, but the expression has no variable {unused[0]!r}")
    variables = {n: Value(values[n], n) for n in values}  # in the order they were given
    root = _build(tree.body, variables)
    if not isinstance(root, Value):  # e.g. "0 * x" folds to no Value only if x is unused, so this is a guard
        raise Refused(f"{quoted(expression)} does not depend on its variables")
    return root, variables


def _parse(expression: str) -> ast.Expression:
    """The syntax tree of ``expression``; its size is checked first, so that the parser's own
    limits (nesting, memory) are never what refuses it."""
    bad = next((i for i, c in enumerate(expression) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:
        raise Refused(f"the expression has a character that is not text (the lone surrogate "
                      f"U+{ord(expression[bad]):04X} at position {bad + 1}); check its encoding")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise Refused(f"the expression is {len(expression):,} characters long; the limit is "
                      f"{MAX_EXPRESSION_LENGTH:,} (about {MAX_EXPRESSION_LENGTH // 2:,} operations)")
    try:
        return ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise Refused(f"{quoted(expression)} is not a valid expression ({error.msg})") from None
    except (RecursionError, MemoryError):
        raise Refused(f"{quoted(expression)} is nested more deeply than Python's parser allows") from None
    except ValueError as error:  # e.g. a NUL character
        raise Refused(f"{quoted(expression)} is not a valid expression ({error})") from None


def _check_tree(tree: ast.Expression, source: str) -> list[str]:
    """Refuse every node outside the whitelist; return the variable names it uses."""
    names: list[str] = []
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        problem = _disallowed(node)
        if problem:
            snippet = ast.get_source_segment(source, node) or type(node).__name__
            snippet = snippet if snippet.isprintable() and len(snippet) <= 60 else quoted(snippet)
            raise Refused(f"{problem}: `{snippet}`; an expression may use {ALLOWED}")
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS and id(node) not in callees:
                raise Refused(f"the function {node.id!r} must be called, e.g. {node.id}(x)")
            if node.id not in FUNCTIONS and node.id not in names:
                names.append(node.id)
    return names


_OPERATORS = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
              ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~"}
_SYNTAX = {ast.Attribute: "attribute access is not allowed", ast.Subscript: "subscripts are not allowed",
           ast.Lambda: "lambda is not allowed", ast.Compare: "comparisons are not allowed",
           ast.BoolOp: "and/or are not allowed", ast.IfExp: "if/else is not allowed",
           ast.NamedExpr: "assignment (:=) is not allowed", ast.Starred: "* unpacking is not allowed"}


def _disallowed(node: ast.AST) -> str | None:
    """Why one syntax node is refused, or None if it is allowed."""
    allowed = (ast.Expression, ast.Load, ast.USub, ast.UAdd, *_BINARY)
    if isinstance(node, allowed):
        return None
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        op = type(node.op)
        return None if op in _BINARY or op in (ast.USub, ast.UAdd) else f"the operator {_OPERATORS.get(op, op.__name__)} is not allowed"
    if isinstance(node, tuple(_OPERATORS)):
        return f"the operator {_OPERATORS[type(node)]} is not allowed"
    if isinstance(node, ast.Constant):
        ok = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        return None if ok else f"the constant {node.value!r} is not a number"
    if isinstance(node, ast.Name):
        return None if not node.id.startswith("_") else f"the name {node.id!r} is not allowed (names must not start with _)"
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            return "only exp, log, relu, tanh, sigmoid and max may be called, not this call"
        name, arity = node.func.id, FUNCTIONS[node.func.id]
        if node.keywords:
            return f"{name} takes no keyword arguments"
        if len(node.args) != arity:
            return f"{name} takes {arity} argument{'s' if arity > 1 else ''}, got {len(node.args)}"
        return None
    return _SYNTAX.get(type(node), f"the syntax {type(node).__name__} is not allowed")


def _build(tree: ast.AST, variables: dict):
    """The value of a checked syntax tree: a Value, or a float for constant parts.

    Operands are evaluated before their operation with an explicit stack (left before right),
    so a long chain such as a 1,000-term sum needs no recursion.
    """
    values: dict[int, object] = {}  # id(syntax node) -> its value
    stack = [tree]
    while stack:
        node = stack[-1]
        operands = _operands(node)
        pending = [o for o in operands if id(o) not in values]
        if pending:
            stack.extend(reversed(pending))
            continue
        stack.pop()
        values[id(node)] = _apply(node, [values[id(o)] for o in operands], variables)
    return values[id(tree)]


def _operands(node: ast.AST) -> list:
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.Call):
        return node.args
    return []


def _apply(node: ast.AST, operands: list, variables: dict):
    """The value of one syntax node given its operands' values."""
    if isinstance(node, ast.Constant):
        return float(node.value)  # floats, so 9**9**9 overflows at once instead of running forever
    if isinstance(node, ast.Name):
        return variables[node.id]
    if isinstance(node, ast.UnaryOp):
        return -operands[0] if isinstance(node.op, ast.USub) else operands[0]
    if isinstance(node, ast.BinOp):
        left, right = operands
        op = _BINARY[type(node.op)]
        if op == "**" and not isinstance(right, float):
            raise Refused("the exponent of ** must be a number, not an expression of variables")
        try:
            result = _APPLY[op](left, right)
        except OverflowError:
            raise Refused(f"{left!r} {op} {right!r} overflows a float") from None
        if isinstance(result, complex):
            raise Refused(f"{left!r} ** {right!r} is not a real number")
        return result
    from .engine.value import Value

    first = operands[0] if isinstance(operands[0], Value) else Value(operands[0])
    return first.max(operands[1]) if node.func.id == "max" else getattr(first, node.func.id)()


def gradient_table(expression: str, root, variables: dict, digits: int = 4) -> str:
    """The command's printout: the expression's value, then each variable's value and gradient."""
    from .pictures.drawing import format_number

    fmt = lambda x: format_number(x, digits)  # noqa: E731
    rows = [("variable", "value", "gradient ∂f/∂variable")]
    rows += [(name, fmt(v.data), fmt(v.grad)) for name, v in variables.items()]
    widths = [max(len(r[k]) for r in rows) for k in range(3)]
    lines = [f"f = {expression} = {fmt(root.data)}", ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
