from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from realparts import Dockerd

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite the golden files beside the sample logs (review the diff before committing)",
    )


@pytest.fixture
def update_golden(request) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="module")
def dockerd() -> Iterator[Dockerd]:
    """A private real dockerd with the busybox test image, one per test module (skipped, with
    the reason, where none can run)."""
    reason = Dockerd.available()
    if reason:
        pytest.skip(f"no real dockerd here: {reason}")
    daemon = Dockerd()
    try:
        daemon.start()
        daemon.import_busybox()
        yield daemon
    finally:
        daemon.close()
