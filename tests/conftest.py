import os
from collections import defaultdict

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Worst errors seen by the maths tests, printed after the run so every `make test` shows
# how far from exact the implementation really is, not just that it passed.
_WORST: dict[str, float] = defaultdict(float)


@pytest.fixture(params=["numba", "numpy"])
def backend(request) -> str:
    """Run a test on both paths: the Numba kernels (the default) and the NumPy reference."""
    return request.param


@pytest.fixture
def record_error():
    def record(name: str, value: float) -> None:
        _WORST[name] = max(_WORST[name], float(value))

    return record


def pytest_terminal_summary(terminalreporter):
    if _WORST:
        terminalreporter.section("worst relative errors measured")
        for name, value in sorted(_WORST.items()):
            terminalreporter.write_line(f"{name:<55} {value:.2e}")
