"""Fixtures for Bookinfo's tests: services as real processes on loopback, and stand-in upstreams."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.unit.samples.bookinfo.support import Answer, Answering, Launcher, Stub

StubFactory = Callable[..., Stub]


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    """Services started in one test, stopped at its end."""
    started = Launcher(tmp_path)
    yield started
    started.close()


@pytest.fixture(scope="module")
def module_launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """Services shared by the tests of one module."""
    started = Launcher(tmp_path_factory.mktemp("bookinfo"))
    yield started
    started.close()


def _stubs() -> tuple[StubFactory, list[Stub]]:
    made: list[Stub] = []

    def make(answer: Answer | Answering | None = None) -> Stub:
        stub = Stub(answer)
        made.append(stub)
        return stub

    return make, made


@pytest.fixture
def stub() -> Iterator[StubFactory]:
    make, made = _stubs()
    yield make
    for each in made:
        each.close()


@pytest.fixture(scope="module")
def module_stub() -> Iterator[StubFactory]:
    make, made = _stubs()
    yield make
    for each in made:
        each.close()
