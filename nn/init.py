"""Weight initialisation: "xavier", "he", "uniform" and "pytorch", drawn from a ``random.Random``.

* xavier (Glorot): wᵢ ~ N(0, σ²), σ = sqrt(2 / (nin + nout)) — keeps the variance through tanh/sigmoid;
* he (Kaiming):    wᵢ ~ N(0, σ²), σ = sqrt(2 / nin)         — keeps the variance through ReLU;
* uniform:         wᵢ ~ U(−1, 1)                             — micrograd's choice;
* pytorch:         wᵢ, b ~ U(−1/√nin, 1/√nin)                — ``torch.nn.Linear``'s default
  (kaiming_uniform with a = √5), the bias drawn too.

The default is He for relu and Xavier otherwise (``Linear``: pytorch). Biases start at 0 except with "pytorch".
"""

from __future__ import annotations

import math
import random

from scalargrad.engine import checks

INITS = ("xavier", "he", "uniform", "pytorch")


def check(name) -> str:
    """``name`` if it is a known initialisation, else ValueError listing the known ones."""
    return checks.one_of(name, INITS, "init")


def default_for(activation: str) -> str:
    """He for relu, Xavier for tanh, sigmoid and linear."""
    return "he" if activation == "relu" else "xavier"


def make_rng(rng=None, seed=None) -> random.Random:
    """The ``random.Random`` every random choice comes from.

    ``rng`` is used as given: a ``random.Random``, or the ``random`` module itself for the
    global generator (draws then interleave with the user's own ``random.uniform`` calls, as in
    micrograd); else a new one from ``seed``; with neither, the seed is drawn from the global
    ``random`` module, so ``random.seed(1337)`` reproduces runs as in micrograd.
    """
    if rng is not None:
        if rng is not random and not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random or the random module, got {type(rng).__name__} {rng!r}")
        return rng
    if seed is None:
        seed = random.getrandbits(64)
    return random.Random(checks.whole(seed, "seed"))


def xavier(nin: int, nout: int, rng: random.Random) -> list[float]:
    """``nin`` weights from N(0, 2/(nin + nout))."""
    sigma = math.sqrt(2.0 / (nin + nout))
    return [rng.gauss(0.0, sigma) for _ in range(nin)]


def he(nin: int, nout: int, rng: random.Random) -> list[float]:
    """``nin`` weights from N(0, 2/nin)."""
    sigma = math.sqrt(2.0 / nin)
    return [rng.gauss(0.0, sigma) for _ in range(nin)]


def uniform(nin: int, nout: int, rng: random.Random) -> list[float]:
    """``nin`` weights from U(−1, 1), as micrograd."""
    return [rng.uniform(-1.0, 1.0) for _ in range(nin)]


def pytorch(nin: int, nout: int, rng: random.Random) -> list[float]:
    """``nin`` weights from U(−1/√nin, 1/√nin), as ``torch.nn.Linear``."""
    bound = 1.0 / math.sqrt(nin)
    return [rng.uniform(-bound, bound) for _ in range(nin)]


def weights(name: str, nin: int, nout: int, rng: random.Random) -> list[float]:
    """``nin`` initial weights of one neuron in a layer of ``nout`` neurons, by method ``name``."""
    return {"xavier": xavier, "he": he, "uniform": uniform, "pytorch": pytorch}[check(name)](nin, nout, rng)


def bias(name: str, nin: int, rng: random.Random) -> float:
    """A neuron's initial bias: U(−1/√nin, 1/√nin) for "pytorch", else 0 (drawing nothing)."""
    return rng.uniform(-1.0 / math.sqrt(nin), 1.0 / math.sqrt(nin)) if check(name) == "pytorch" else 0.0
