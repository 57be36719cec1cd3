"""A newcomer's first hour: the README says how to get the tools before using them, the plain-pip
route names dependency groups that exist, and the first mistakes get messages naming them.
(.ci/run runs this file in a venv made by the README's plain-pip route.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from nn import MLP

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
GROUPS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["dependency-groups"]


def test_the_readme_installs_uv_before_its_first_uv_command():
    commands = [line.strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S) for line in block.splitlines()]
    first_uv = next(i for i, c in enumerate(commands) if c.startswith("uv "))
    assert any(re.match(r"python3 -m pip install uv\b", c) for c in commands[:first_uv])
    assert any("astral.sh/uv/install.sh" in c for c in commands[:first_uv])


def test_the_plain_pip_route_upgrades_pip_and_names_groups_that_exist():
    commands = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S) for line in block.splitlines()]
    upgrade = commands.index("python -m pip install -U pip")  # --group needs pip >= 25.1
    installs = [c for c in commands if c.startswith("pip install -e . --group")]
    assert installs and all(commands.index(c) > upgrade for c in installs)
    for install in installs:
        for group in re.findall(r"--group (\S+)", install):
            assert group in GROUPS, group
    assert commands[commands.index(installs[0]) + 1] == "pytest"
    assert {"pytest>=8", "hypothesis>=6.100"} <= set(GROUPS["test"])


@pytest.mark.parametrize("nin, given", [(3, 1.0), (2, 5), (4, -0.5)])
def test_a_number_where_a_list_of_inputs_belongs_is_named_as_that_mistake(nin, given):
    model = MLP(nin, [4, 1], seed=0)
    weights = [p.data for p in model.parameters()]
    with pytest.raises(TypeError) as error:
        model(given)
    message = str(error.value)
    assert f"expects a list of {nin} inputs, got one {type(given).__name__} {given!r}" in message
    assert "pass a list such as [x1, x2" in message
    assert [p.data for p in model.parameters()] == weights


def test_a_one_input_model_still_takes_a_lone_number():
    model = MLP(1, [1], seed=0)
    assert model(2.0).data == model([2.0]).data


def test_a_list_of_the_wrong_length_still_says_how_many():
    with pytest.raises(ValueError, match="expects 3 inputs, got 2"):
        MLP(3, [1], seed=0)([1.0, 2.0])
