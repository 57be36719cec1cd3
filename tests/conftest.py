import pytest

from scalargrad import Value


@pytest.fixture
def values():
    """Make labelled leaves: values(x=-2, y=5) -> (Value x, Value y)."""

    def make(**named):
        return tuple(Value(v, k) for k, v in named.items())

    return make
