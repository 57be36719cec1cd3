"""The ``scalargrad`` command: ``scalargrad xor`` trains an MLP on XOR and prints its truth table;
``scalargrad train --data moons`` trains on another dataset. ``scalargrad draw`` comes from
:mod:`scalargrad.cli`."""

from __future__ import annotations

import argparse
import sys

import scalargrad.cli
from scalargrad import no_grad

from . import data, losses
from .layers import MLP
from .optim import OPTIMIZERS
from .train import DivergenceError, accuracy, fit

BINARY = ("xor", "and", "or", "moons", "circles")


def _widths(text: str) -> list[int]:
    """``"8"`` or ``"16,16"`` → hidden-layer widths."""
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer widths such as 4 or 16,16, got {text!r}") from None
    if not widths or any(w < 1 for w in widths):
        raise argparse.ArgumentTypeError(f"layer widths must be positive, got {text!r}")
    return widths


def _positive(kind):
    def parse(text: str):
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not x > 0 or x == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
        return x

    parse.__name__ = kind.__name__
    return parse


def _at_least(kind, low):
    def parse(text: str):
        try:
            x = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not low <= x < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a finite number >= {low}, got {text!r}")
        return x

    parse.__name__ = kind.__name__
    return parse


def _add_model_options(p, hidden: str, activation: str, optimizer: str, lr: float, epochs: int) -> None:
    p.add_argument("--hidden", type=_widths, default=_widths(hidden), metavar="W[,W...]", help=f"hidden layer widths (default {hidden})")
    p.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default=activation, help=f"hidden activation (default {activation})")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=optimizer, help=f"optimizer (default {optimizer})")
    p.add_argument("--lr", type=_positive(float), default=lr, help=f"learning rate (default {lr})")
    p.add_argument("--epochs", type=_positive(int), default=epochs, help=f"training epochs (default {epochs})")
    p.add_argument("--seed", type=int, default=0, help="random seed: same seed, same run (default 0)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")


def build_parser() -> argparse.ArgumentParser:
    """The ``scalargrad`` argument parser with its subcommands."""
    parser = argparse.ArgumentParser(prog="scalargrad", description="Train small neural networks on scalar Values and draw their graphs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    xor = sub.add_parser("xor", help="train an MLP on XOR and print its truth table",
                         description="Train an MLP on XOR (the problem one perceptron cannot solve) and print the truth table.")
    _add_model_options(xor, "4", "tanh", "adam", 0.1, 200)
    xor.set_defaults(run=_run_xor)
    train = sub.add_parser("train", help="train an MLP on a small dataset",
                           description="Train an MLP on a small dataset and print the final loss and accuracy.")
    train.add_argument("--data", choices=list(data.DATASETS), required=True, help="the dataset")
    train.add_argument("--n", type=_positive(int), default=100, help="points for moons/circles/spiral (default 100)")
    train.add_argument("--noise", type=_at_least(float, 0.0), default=None, help="noise for moons/circles/spiral (default: the dataset's)")
    train.add_argument("--classes", type=_at_least(int, 2), default=3, help="spiral arms (default 3)")
    train.add_argument("--batch-size", type=_positive(int), default=20, help="mini-batch size (default 20)")
    _add_model_options(train, "16,16", "relu", "adam", 0.05, 30)
    train.set_defaults(run=_run_train)
    scalargrad.cli.register(sub)
    return parser


def main(argv=None) -> int:
    """Run the ``scalargrad`` command; returns the exit status (argparse exits with 2 on bad options)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except DivergenceError as error:
        print(f"scalargrad {args.command}: error: {error}", file=sys.stderr)
        return 1


def _optimizer(args, model):
    return OPTIMIZERS[args.optimizer](model.parameters(), lr=args.lr)


def _describe(args, nin: int, nout: int, output: str) -> str:
    shape = " → ".join(str(w) for w in [nin, *args.hidden, nout])
    return f"MLP {shape} ({args.activation}, {output} output), {args.optimizer} lr={args.lr:g}, {args.epochs} epochs, seed {args.seed}"


def _final_loss(model, X, y, loss) -> float:
    with no_grad():
        return sum(loss(model(x), t).data for x, t in zip(X, y)) / len(X)


def _print_truth_table(model, X, y) -> None:
    print(" x1  x2  target  output")
    with no_grad():
        for x, t in zip(X, y):
            print(f"{x[0]:3g} {x[1]:3g} {t:7d}  {model(x).data:.4f}")


def _train_binary(args, X, y, name: str, table: bool) -> None:
    model = MLP(2, args.hidden + [1], activation=args.activation, output_activation="sigmoid", seed=args.seed)
    print(f"{name}: {_describe(args, 2, 1, 'sigmoid')}")
    fit(model, X, y, losses.bce, _optimizer(args, model), args.epochs, batch_size=getattr(args, "batch_size", None),
        seed=args.seed, progress=args.progress)
    if table:
        _print_truth_table(model, X, y)
    print(f"final loss {_final_loss(model, X, y, losses.bce):.4f}  accuracy {accuracy(model, X, y):.2f}")


def _run_xor(args) -> None:
    X, y = data.xor()
    _train_binary(args, X, y, "XOR", table=True)


def _run_train(args) -> None:
    make = data.DATASETS[args.data]
    if args.data in ("xor", "and", "or"):
        X, y = make()
        return _train_binary(args, X, y, args.data.upper(), table=True)
    noise = {} if args.noise is None else {"noise": args.noise}
    if args.data != "spiral":
        X, y = make(args.n, seed=args.seed, **noise)
        return _train_binary(args, X, y, f"{args.data} ({args.n} points)", table=False)
    X, y = make(args.n, args.classes, seed=args.seed, **noise)
    model = MLP(2, args.hidden + [args.classes], activation=args.activation, seed=args.seed)
    print(f"spiral ({args.n} points, {args.classes} classes): {_describe(args, 2, args.classes, 'linear')}, cross entropy")
    fit(model, X, y, losses.cross_entropy, _optimizer(args, model), args.epochs, batch_size=args.batch_size,
        seed=args.seed, progress=args.progress)
    print(f"final loss {_final_loss(model, X, y, losses.cross_entropy):.4f}  accuracy {accuracy(model, X, y):.2f}")
