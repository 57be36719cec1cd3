"""Model files that cannot hurt: what ``Module.load`` refuses before reading, the one load
error for every malformed file (model untouched), and what ``save`` refuses (nothing written)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn.module
from nn import MLP
from nn.module import MAX_FILE_BYTES, ModelFileError
from scalargrad import NonFiniteError

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (for what could hang, or reads process-wide state such as the umask)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid file's bytes, saved from MLP(2, [2, 1])."""
    path = tmp_path_factory.mktemp("saved") / "model.json"
    MLP(2, [2, 1], seed=7).save(path)
    return path.read_bytes()


def refused(model, path, message: str, **kwargs) -> ModelFileError:
    before = model.state_dict()
    with pytest.raises(ModelFileError, match=message) as error:
        model.load(path, **kwargs)
    assert str(error.value).startswith(os.fspath(path) + ": ")
    assert model.state_dict() == before
    return error.value


# ---------------------------------------------------------------- refused before reading


def test_a_folder_is_refused(tmp_path):
    refused(MLP(1, [1], seed=0), tmp_path, "not a model file but a folder")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero_is_refused_without_reading_it():
    refused(MLP(1, [1], seed=0), "/dev/zero", "/dev/zero: not a model file but a character device")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes")
def test_a_named_pipe_is_refused_instead_of_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.json"
    os.mkfifo(fifo)
    result = run_python(f"""
        from nn import MLP
        from nn.module import ModelFileError
        try:
            MLP(1, [1], seed=0).load({str(fifo)!r})
        except ModelFileError as error:
            print(error)
    """, timeout=30)
    assert result.stdout.strip() == f"{fifo}: not a model file but a named pipe; load reads only regular files", result.stderr


def test_a_file_over_the_limit_is_refused_by_its_size_without_reading(tmp_path, monkeypatch):
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(3 * 2**30)  # 3 GiB, sparse: no disk used
    def no_opening(*args, **kwargs):
        raise AssertionError("load opened a file it should have refused from its size")
    monkeypatch.setattr(nn.module.os, "open", no_opening)
    refused(MLP(1, [1], seed=0), huge, f"the file has {3 * 2**30} bytes, more than max_bytes={MAX_FILE_BYTES}")


def test_max_bytes_sets_the_limit(tmp_path, saved):
    path = tmp_path / "model.json"
    path.write_bytes(saved)
    model = MLP(2, [2, 1], seed=0)
    refused(model, path, f"more than max_bytes={len(saved) - 1} \\(load\\(path, max_bytes=...\\) allows more\\)", max_bytes=len(saved) - 1)
    assert model.load(path, max_bytes=len(saved)).state_dict() == MLP(2, [2, 1], seed=7).state_dict()
    with pytest.raises(ValueError, match="max_bytes must be a whole number >= 0, got -1"):
        model.load(path, max_bytes=-1)
    with pytest.raises(TypeError, match="max_bytes must be a whole number, got float 1000000000.0"):
        model.load(path, max_bytes=1e9)


def test_the_default_limit_fits_a_million_parameters():
    # The longest line a 1000 → 1000 layer's file has: its longest name and the longest float.
    line = json.dumps({"layers.0.neurons.999.w.999": -2.2250738585072014e-308}, indent=1).splitlines()[1] + ",\n"
    assert 10**6 * len(line) + 10_000 < MAX_FILE_BYTES


def test_a_missing_file_is_pythons_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        MLP(1, [1], seed=0).load(tmp_path / "missing.json")


# ---------------------------------------------------------------- malformed files


def _document(parameters: str, version: str = "1") -> str:
    return f'{{"format": "scalargrad.nn/state", "version": {version}, "parameters": {parameters}}}'


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (_document('{"layers.0.neurons.0.w.0": ' + "9" * 400 + ', "layers.0.neurons.0.b": 0}'), "the number 999999999999… has 400 digits, too large"),
        (_document("{}", version="1" + "0" * 5000), "has 5001 digits"),
        (_document('{"layers.0.neurons.0.w.0": 1e400, "layers.0.neurons.0.b": 0}'), "must be a finite number, got inf"),
        (_document('{"layers.0.neurons.0.w.0": -Infinity, "layers.0.neurons.0.b": 0}'), "-Infinity is not a finite number"),
        (_document("{}", version="true"), "unsupported file version True"),
        (_document("{}", version="1.0"), "unsupported file version 1.0"),
        (_document("{}", version='"1"'), "unsupported file version '1'"),
        ("", "not a JSON parameter file \\(Expecting value"),
        ("\ufeff" + _document("{}"), "not a JSON parameter file"),
        (_document('{"layers.0.neurons.0.w.0": 0, "layers.0.neurons.0.b": 0, "\\ud800": 1}'), "extra parameter '\\\\ud800'"),
    ],
)
def test_every_malformed_file_is_the_one_load_error(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    error = refused(MLP(1, [1], seed=0), path, message)
    assert isinstance(error, ValueError)


def test_a_file_that_is_not_utf8_is_the_load_error(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"format": "\xff"}')
    refused(MLP(1, [1], seed=0), path, "not UTF-8 text: invalid start byte at byte 12")


def _mutations():
    position = st.integers(min_value=0, max_value=10**6)
    flip = st.tuples(st.just("flip"), position, st.integers(min_value=1, max_value=255))
    insert = st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=8))
    delete = st.tuples(st.just("delete"), position, st.integers(min_value=1, max_value=16))
    text = st.tuples(st.just("insert"), position, st.sampled_from([b"[", b"{", b"]", b"}", b'"', b",", b":", b"1e999", b"NaN",
                                                                   b"true", b"null", b"-", b"9" * 400, b"\\u0000"]))
    return st.lists(st.one_of(flip, insert, delete, text), min_size=1, max_size=6)


def _mutate(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for kind, at, what in edits:
        at %= len(b) + 1
        if kind == "flip" and at < len(b):
            b[at] ^= what
        elif kind == "insert":
            b[at:at] = what
        elif kind == "delete":
            del b[at:at + what]
    return bytes(b)


def _loads_or_refuses(tmp_path, data: bytes) -> None:
    path = tmp_path / "fuzzed.json"
    path.write_bytes(data)
    model = MLP(2, [2, 1], seed=0)
    before = model.state_dict()
    try:
        model.load(path)
    except ModelFileError as error:
        assert str(error).startswith(f"{path}: ")
        assert model.state_dict() == before
    else:
        after = model.state_dict()
        assert after.keys() == before.keys() and all(type(x) is float and math.isfinite(x) for x in after.values())


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(edits=_mutations())
def test_fuzz_mutated_files_give_only_the_load_error(tmp_path, saved, edits):
    _loads_or_refuses(tmp_path, _mutate(saved, edits))


@FUZZ
@given(data=st.binary(max_size=200) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_fuzz_random_bytes_give_only_the_load_error(tmp_path, data):
    _loads_or_refuses(tmp_path, data)


# ---------------------------------------------------------------- save


@pytest.mark.parametrize(
    "data, error, message",
    [
        ("abc", TypeError, "parameter 'layers.0.neurons.0.b' must be a real number, got str 'abc'"),
        (None, TypeError, "parameter 'layers.0.neurons.0.b' must be a real number, got NoneType None"),
        (math.nan, NonFiniteError, "parameter 'layers.0.neurons.0.b' is nan, not a finite number; nothing was written"),
        (-math.inf, NonFiniteError, "is -inf, not a finite number"),
        pytest.param(10**400, NonFiniteError, "not a finite number", id="a 401-digit int"),
    ],
)
def test_save_refuses_a_parameter_that_is_not_a_finite_number_and_writes_nothing(tmp_path, data, error, message):
    path = tmp_path / "model.json"
    model = MLP(1, [1], seed=0)
    model.save(path)
    old = path.read_bytes()
    model.layers[0].neurons[0].b.data = data
    with pytest.raises(error, match=message):
        model.save(path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


@pytest.mark.parametrize("umask, mode", [(0o022, "0o644"), (0o077, "0o600")])
def test_save_gives_the_file_the_umasks_mode(umask, mode):
    # A fresh interpreter: scalargrad.files reads the umask once, when it is imported.
    result = run_python(f"""
        import os, stat, tempfile
        from pathlib import Path
        os.umask({umask})
        import nn
        with tempfile.TemporaryDirectory() as folder:
            nn.MLP(1, [1], seed=0).save(Path(folder) / "model.json")
            print(oct(stat.S_IMODE(os.stat(Path(folder) / "model.json").st_mode)))
    """)
    assert result.stdout.strip() == mode, result.stderr
