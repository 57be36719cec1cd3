"""The ``scalargrad`` command: ``scalargrad xor`` trains an MLP on XOR and prints its truth table;
``scalargrad train --data moons`` trains on another dataset. ``scalargrad draw`` comes from
:mod:`scalargrad.cli`."""

from __future__ import annotations

import argparse
import sys

import scalargrad.cli
from scalargrad import NonFiniteError, no_grad
from scalargrad.cli import CommandParser, bounded, quoted, tolerant_output
from scalargrad.engine import checks

from . import data, losses
from .layers import MLP
from .optim import OPTIMIZERS
from .train import DivergenceError, accuracy, fit

BINARY = ("xor", "and", "or", "moons", "circles")
# Bounds of the options, checked before any work: each one names its bound when it refuses.
MAX_WIDTH = 1_024  # units in one hidden layer
MAX_LAYERS = 8  # hidden layers
MAX_PARAMETERS = 100_000  # weights and biases of the whole MLP (each is a Value every step)
MAX_POINTS = 10_000
MAX_CLASSES = 100
MAX_EPOCHS = 100_000
MAX_LR = 1_000
MAX_NOISE = 10
MAX_SEED = 2**32 - 1


def _widths(text: str) -> list[int]:
    """``"8"`` or ``"16,16"`` → hidden-layer widths, each from 1 to MAX_WIDTH, at most MAX_LAYERS."""
    try:
        widths = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer widths such as 4 or 16,16, got {quoted(text)}") from None
    if len(widths) > MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"at most {MAX_LAYERS} hidden layers, got {len(widths)}")
    try:
        return [checks.whole(w, "each layer width", low=1, high=MAX_WIDTH) for w in widths]
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _add_model_options(p, hidden: str, activation: str, optimizer: str, lr: float, epochs: int) -> None:
    p.add_argument("--hidden", type=_widths, default=_widths(hidden), metavar="W[,W...]",
                   help=f"hidden layer widths, each 1 to {MAX_WIDTH}, at most {MAX_LAYERS} layers (default {hidden})")
    p.add_argument("--activation", choices=["relu", "tanh", "sigmoid"], default=activation, help=f"hidden activation (default {activation})")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=optimizer, help=f"optimizer (default {optimizer})")
    p.add_argument("--lr", type=bounded(float, 0, MAX_LR, low_open=True), default=lr,
                   help=f"learning rate, > 0 and <= {MAX_LR:g} (default {lr})")
    p.add_argument("--epochs", type=bounded(int, 1, MAX_EPOCHS), default=epochs, help=f"training epochs, 1 to {MAX_EPOCHS:,} (default {epochs})")
    p.add_argument("--seed", type=bounded(int, 0, MAX_SEED), default=0, help="random seed: same seed, same run (default 0)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    p.set_defaults(command_parser=p)


def build_parser() -> argparse.ArgumentParser:
    """The ``scalargrad`` argument parser with its subcommands."""
    parser = CommandParser(prog="scalargrad", description="Train small neural networks on scalar Values and draw their graphs.",
                           epilog="Run 'scalargrad COMMAND -h' for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    sub.required = True
    xor = sub.add_parser("xor", help="train an MLP on XOR and print its truth table",
                         description="Train an MLP on XOR (the problem one perceptron cannot solve) and print the truth table.")
    _add_model_options(xor, "4", "tanh", "adam", 0.1, 200)
    xor.set_defaults(run=_run_xor)
    train = sub.add_parser("train", help="train an MLP on a small dataset",
                           description="Train an MLP on a small dataset and print the final loss and accuracy.")
    train.add_argument("--data", choices=list(data.DATASETS), required=True, help="the dataset")
    train.add_argument("--n", type=bounded(int, 2, MAX_POINTS), default=100, help=f"points for moons/circles/spiral, 2 to {MAX_POINTS:,} (default 100)")
    train.add_argument("--noise", type=bounded(float, 0, MAX_NOISE), default=None, help=f"noise for moons/circles/spiral, 0 to {MAX_NOISE:g} (default: the dataset's)")
    train.add_argument("--classes", type=bounded(int, 2, MAX_CLASSES), default=3, help=f"spiral arms, 2 to {MAX_CLASSES} (default 3)")
    train.add_argument("--batch-size", type=bounded(int, 1, MAX_POINTS), default=20, help="mini-batch size (default 20)")
    _add_model_options(train, "16,16", "relu", "adam", 0.05, 30)
    train.set_defaults(run=_run_train)
    scalargrad.cli.register(sub)
    return parser


def main(argv=None) -> int:
    """Run the ``scalargrad`` command; returns the exit status: 0 done, 1 the training failed
    (diverged, or the loss ended no lower than it started), 130 interrupted. A refused command
    line exits with status 2 (``SystemExit``) after one ``error:`` line under the usage."""
    tolerant_output()
    args = build_parser().parse_args(argv)
    if args.command in ("xor", "train"):
        _check_size(args)
    try:
        return args.run(args) or 0
    except (DivergenceError, NonFiniteError) as error:
        print(f"scalargrad {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"scalargrad {args.command}: interrupted", file=sys.stderr)
        return 130


def _check_size(args) -> None:
    """Refuse (exit 2) option combinations that each option's own bound allows but together do not."""
    spiral = getattr(args, "data", "xor") == "spiral"
    if spiral and args.n < args.classes:
        args.command_parser.error(f"--n {args.n} is fewer points than --classes {args.classes}: every class needs a point")
    sizes = [2, *args.hidden, args.classes if spiral else 1]
    count = sum((nin + 1) * nout for nin, nout in zip(sizes, sizes[1:]))
    if count > MAX_PARAMETERS:
        args.command_parser.error(f"--hidden {','.join(map(str, args.hidden))} gives an MLP of {count:,} parameters; "
                                  f"the limit is {MAX_PARAMETERS:,}")


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


def _train(args, model, X, y, loss, table: bool) -> int:
    """Train, print the outcome; 1 (with a line saying so) when the loss ended no lower than it started."""
    start = _final_loss(model, X, y, loss)
    fit(model, X, y, loss, _optimizer(args, model), args.epochs, batch_size=getattr(args, "batch_size", None),
        seed=args.seed, progress=args.progress)
    if table:
        _print_truth_table(model, X, y)
    end = _final_loss(model, X, y, loss)
    print(f"final loss {end:.4f}  accuracy {accuracy(model, X, y):.2f}")
    if not end < start:
        print(f"scalargrad {args.command}: error: training failed: the loss ended at {end:.4g}, no lower than it "
              f"started ({start:.4g}); try a smaller --lr or another --optimizer", file=sys.stderr)
        return 1
    return 0


def _train_binary(args, X, y, name: str, table: bool) -> int:
    model = MLP(2, args.hidden + [1], activation=args.activation, output_activation="sigmoid", seed=args.seed)
    print(f"{name}: {_describe(args, 2, 1, 'sigmoid')}")
    return _train(args, model, X, y, losses.bce, table)


def _run_xor(args) -> int:
    X, y = data.xor()
    return _train_binary(args, X, y, "XOR", table=True)


def _run_train(args) -> int:
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
    return _train(args, model, X, y, losses.cross_entropy, table=False)
