"""``Module``: the base class of every model — parameters, modes, state and files.

A module finds its parameters by looking at its attributes, in the order they were
set: a ``Value`` is a parameter, a ``Module`` is a sub-module, and lists/tuples are
searched item by item. Names are dotted paths such as ``layers.0.neurons.1.w.0``.
Subclasses written for micrograd (which only define ``__call__`` and ``parameters``)
keep working.

Buffers are numbers that belong to a module's state without being parameters (the running
statistics of ``BatchNorm1d``): a module maps their attribute names to what they hold in
``_buffers`` — "real", "nonnegative" (a variance) or "count" (a whole number >= 0) — each
attribute a list of numbers, a number, or None when unused. ``state_dict``, ``save`` and ``load``
carry them after the parameters, as PyTorch's state_dict does.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Iterator, Mapping

from scalargrad import NonFiniteError, Value
from scalargrad.engine import checks
from scalargrad.engine.context import pop_scope, push_scope
from scalargrad.files import require_folder, write_atomically

FILE_FORMAT = "scalargrad.nn/state"
#: Files of models with buffers are version 2 ("buffers" beside "parameters"); files of
#: models without are still written as version 1, so older readers keep reading them.
FILE_VERSION = 2
_READABLE_VERSIONS = (1, 2)
MAX_FILE_BYTES = 128 * 2**20
"""``load`` refuses larger files before reading them: 128 MiB, about two million parameters
(a 10⁶-parameter MLP's file is about 54 MB). ``load(path, max_bytes=...)`` changes it."""
_MAX_DIGITS = 320  # a JSON integer with more digits than this cannot be a finite float


class ModelFileError(ValueError):
    """A file ``Module.load`` refuses: not a regular file, too large, not JSON, not a
    parameter file, or not one for this model. The message starts with the path and says
    what was wrong; the model is left untouched."""


class Module:
    """Base class of layers and models (PyTorch's ``nn.Module`` names, micrograd's behaviour)."""

    training = True
    _scope_name = None
    _buffers: Mapping[str, str] = {}

    def __setattr__(self, name, value):
        # A sub-module (or a list of them) learns its name here; forward opens a scope with it.
        if not name.startswith("_"):
            for child_name, child in _named_modules_in(name, value):
                object.__setattr__(child, "_scope_name", child_name)
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        name = self._scope_name
        if name is None:
            return self.forward(*args, **kwargs)
        token = push_scope(name)
        try:
            return self.forward(*args, **kwargs)
        finally:
            pop_scope(token)

    def forward(self, *args, **kwargs):
        """The computation; subclasses define it (or define ``__call__`` as in micrograd)."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    # ------------------------------------------------------------ parameters

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """Direct sub-modules with their names (``layers.0``), in attribute order."""
        for name, value in vars(self).items():
            if not name.startswith("_"):
                yield from _named_modules_in(name, value)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """Every parameter with its dotted name, in attribute order, each once."""
        seen = set()
        for name, p in self._own_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _own_parameters(self, prefix: str) -> Iterator[tuple[str, Value]]:
        for name, value in vars(self).items():
            if not name.startswith("_"):
                yield from _walk(value, f"{prefix}.{name}" if prefix else name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        """Every buffer number with its dotted name (``layer1.1.running_mean.0``), sub-modules in order."""
        for name, _, _, _, value in self._buffer_slots(prefix):
            yield name, value

    def _buffer_slots(self, prefix: str = ""):
        """(name, kind, holder, key, value) for each buffer number: ``holder[key] = x`` sets it."""
        for attr, kind in self._buffers.items():
            value = getattr(self, attr)
            name = f"{prefix}.{attr}" if prefix else attr
            if isinstance(value, list):
                for i, x in enumerate(value):
                    yield f"{name}.{i}", kind, value, i, x
            elif value is not None:
                yield name, kind, vars(self), attr, value
        for child_name, child in self.named_children():
            yield from child._buffer_slots(f"{prefix}.{child_name}" if prefix else child_name)

    def parameters(self) -> list[Value]:
        """Every parameter (``Value``), in order, without duplicates."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many scalar parameters the model has."""
        return sum(1 for _ in self.named_parameters())

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0 (before each ``backward()``)."""
        for p in self.parameters():
            p.grad = 0.0

    # ------------------------------------------------------------ modes

    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on this module and every sub-module (Dropout drops only in training). Returns self."""
        self.training = checks.flag(mode, "train(mode)")
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self) -> "Module":
        """``train(False)``: evaluation mode (Dropout is the identity). Returns self."""
        return self.train(False)

    # ------------------------------------------------------------ state

    def state_dict(self) -> dict[str, float]:
        """``{name: number}`` for every parameter, in order, then every buffer."""
        state = {name: p.data for name, p in self.named_parameters()}
        state.update(self.named_buffers())
        return state

    def load_state_dict(self, state: Mapping) -> "Module":
        """Copy numbers from ``state`` (as made by ``state_dict``) into the parameters and buffers. Returns self.

        Refused with ValueError/TypeError naming the first problem — a missing name, an extra
        name, a value that is not a finite number, a negative variance buffer (``running_var``) or
        a count buffer (``num_batches_tracked``) that is not a whole number >= 0 — and then
        nothing is changed.
        """
        params = dict(self.named_parameters())
        slots = {name: (kind, holder, key) for name, kind, holder, key, _ in self._buffer_slots()}
        values = _checked_state(state, {**params, **slots})
        buffers = {name: _buffer_value(name, kind, values[name]) for name, (kind, _, _) in slots.items()}
        for name, p in params.items():
            p.data = values[name]
        for name, (_, holder, key) in slots.items():
            holder[key] = buffers[name]
        return self

    def save(self, path) -> None:
        """Write the parameters (and buffers) to ``path`` as JSON (never pickle); floats round-trip exactly.

        A model with buffers is written as file version 2 (a "buffers" object beside
        "parameters"), one without as version 1. Every parameter and buffer must be a finite
        number first: one that is not a number is refused with TypeError, one that is inf or
        nan (a diverged run) with NonFiniteError, a buffer that ``load`` would refuse (a
        negative variance, a count that is not a whole number) with ValueError, each naming
        it, and nothing is written. The file is written to a temporary name and then moved
        into place, so a failed save never leaves a half-written file (nor a temporary one);
        it gets the mode ``open()`` would give (0644 under umask 022).
        """
        where = f"cannot save {os.fspath(path)!r}"
        parameters = {name: _savable(p.data, f"{where}: parameter {name!r}") for name, p in self.named_parameters()}
        buffers = {}
        for name, kind, _, _, value in self._buffer_slots():
            try:
                buffers[name] = _buffer_value(name, kind, _savable(value, f"{where}: buffer {name!r}"))
            except ValueError as error:  # a negative variance or a fractional count: load would refuse it
                raise ValueError(f"{where}: {error}; nothing was written") from None
        document = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION if buffers else 1,
            "model": _one_line(repr(self)),
            "parameters": parameters,
        }
        if buffers:
            document["buffers"] = buffers
        path = Path(path)
        require_folder(path)
        write_atomically(path, json.dumps(document, indent=1, allow_nan=False).encode("utf-8"))

    def load(self, path, *, max_bytes: int = MAX_FILE_BYTES) -> "Module":
        """Load parameters (and buffers) saved by ``save`` into this model (same architecture). Returns self.

        Reads file versions 1 and 2. Loading runs no code (JSON only). Anything that is not a
        regular file (a folder, a named pipe, a device such as /dev/zero) and any file over
        ``max_bytes`` is refused before a byte is read. A file that is not such JSON, or whose names, sizes or numbers
        do not match the model, is refused naming the first problem. Every refusal is a
        ModelFileError (a ValueError) whose message starts with the path, and the model is
        left untouched. A missing or unreadable file is Python's OSError.
        """
        max_bytes = checks.whole(max_bytes, "load max_bytes", low=0)
        path = os.fspath(path)
        document = _parse(path, _read_regular_file(path, max_bytes))
        if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
            raise ModelFileError(f"{path}: not a scalargrad nn parameter file (expected a JSON object with format {FILE_FORMAT!r})")
        version = document.get("version")
        if type(version) is not int or version not in _READABLE_VERSIONS:
            raise ModelFileError(f"{path}: unsupported file version {version!r} (this reads versions 1 and {FILE_VERSION})")
        if not isinstance(document.get("parameters"), dict):
            raise ModelFileError(f"{path}: 'parameters' must be a JSON object of name: number")
        buffers = document.get("buffers", {}) if version >= 2 else {}
        if not isinstance(buffers, dict):
            raise ModelFileError(f"{path}: 'buffers' must be a JSON object of name: number")
        clash = next((name for name in buffers if name in document["parameters"]), None)
        if clash is not None:
            raise ModelFileError(f"{path}: the name {clash!r} is both a parameter and a buffer")
        try:
            return self.load_state_dict({**document["parameters"], **buffers})
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"{path}: {error}") from None

    # ------------------------------------------------------------ display

    def extra_repr(self) -> str:
        """The text inside this module's parentheses when it has no listed sub-modules."""
        return ""

    def _repr_children(self) -> list[tuple[str, "Module"]]:
        return list(self.named_children())

    def __repr__(self) -> str:
        children = self._repr_children()
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"


# ---------------------------------------------------------------- helpers


def _named_modules_in(name: str, value) -> Iterator[tuple[str, Module]]:
    if isinstance(value, Module):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _named_modules_in(f"{name}.{i}", item)


def _walk(obj, prefix: str) -> Iterator[tuple[str, Value]]:
    if isinstance(obj, Value):
        yield prefix, obj
    elif isinstance(obj, Module):
        yield from obj.named_parameters(prefix)
    elif isinstance(obj, (list, tuple)):
        for i, item in enumerate(obj):
            yield from _walk(item, f"{prefix}.{i}" if prefix else str(i))


def _checked_state(state, params: dict) -> dict[str, float]:
    """The numbers to load, or an error naming the first mismatch (nothing is changed)."""
    if not isinstance(state, Mapping):
        raise TypeError(f"load_state_dict expects a mapping of name: number, got {type(state).__name__}")
    sizes = f"(the model has {len(params)} parameters, the state has {len(state)})"
    for name in params:
        if name not in state:
            raise ValueError(f"parameter {name!r} is missing from the state {sizes}")
    for name in state:
        if name not in params:
            raise ValueError(f"the state has an extra parameter {name!r} that the model does not have {sizes}")
    return {name: checks.number(state[name], f"parameter {name!r}") for name in params}


def _savable(x, what: str) -> float:
    """``x`` as the finite float ``save`` writes, else TypeError (not a number) or NonFiniteError."""
    try:
        return checks.number(x, what)
    except ValueError:
        raise NonFiniteError(f"{what} is {x!r}, not a finite number; nothing was written") from None


_KINDS = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")]


def _require_regular(path: str, info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
        raise ModelFileError(f"{path}: not a model file but {kind}; load reads only regular files")
    if info.st_size > max_bytes:
        raise ModelFileError(f"{path}: the file has {info.st_size} bytes, more than max_bytes={max_bytes} (load(path, max_bytes=...) allows more)")


def _read_regular_file(path: str, max_bytes: int) -> bytes:
    """The bytes of ``path``, refused before reading unless it is a regular file of at most ``max_bytes``."""
    _require_regular(path, os.stat(path), max_bytes)
    # O_NONBLOCK: if the path was swapped for a named pipe since the stat, opening it does not wait.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as f:
        _require_regular(path, os.fstat(fd), max_bytes)  # what was opened is what was checked
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while being read
        raise ModelFileError(f"{path}: the file has more than max_bytes={max_bytes} bytes")
    return data


def _parse(path: str, data: bytes):
    """The JSON document in ``data``; ModelFileError naming what is wrong otherwise."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants,
                          parse_int=_json_int)
    except UnicodeDecodeError as error:
        raise ModelFileError(f"{path}: not a JSON parameter file (not UTF-8 text: {error.reason} at byte {error.start})") from None
    except RecursionError:
        raise ModelFileError(f"{path}: not a JSON parameter file (nested too deeply)") from None
    except ValueError as error:  # JSONDecodeError is a ValueError, and so are the hooks' refusals
        raise ModelFileError(f"{path}: not a JSON parameter file ({error})") from None


def _buffer_value(name: str, kind: str, x: float):
    if kind == "count":
        if not (x >= 0 and x.is_integer()):
            raise ValueError(f"buffer {name!r} is a count: it must be a whole number >= 0, got {x!r}")
        return int(x)
    if kind == "nonnegative" and x < 0:
        raise ValueError(f"buffer {name!r} is a variance: it must be >= 0, got {x!r}")
    return x


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"the name {key!r} appears twice")
        result[key] = value
    return result


def _no_constants(name):
    raise ValueError(f"{name} is not a finite number")


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise ValueError(f"the number {text[:12]}… has {len(text.lstrip('-'))} digits, too large for a float")
    return int(text)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines())
