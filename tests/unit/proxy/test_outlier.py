from __future__ import annotations

from dataclasses import dataclass

from mesh_runtime import xds
from mesh_runtime.proxy.outlier import OutlierDetector


@dataclass(eq=False)
class Host:
    consecutive_5xx: int = 0
    consecutive_gateway: int = 0
    ejected: bool = False
    ejected_until: float = 0.0
    ejection_count: int = 0


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def detector(hosts: list[Host], clock: Clock, **settings: object) -> tuple[OutlierDetector, list[int]]:
    changes: list[int] = []
    found = OutlierDetector(
        xds.OutlierDetection(**settings),  # type: ignore[arg-type]
        lambda: hosts,
        lambda: changes.append(1),
        clock,
    )
    return found, changes


def test_consecutive_5xx_eject_and_a_success_resets() -> None:
    host, other = Host(), Host()
    clock = Clock()
    found, changes = detector([host, other], clock, consecutive_5xx_errors=3, max_ejection_percent=50)
    for status in (500, 503, 200, 500, 500):
        found.record(host, status)
    assert not host.ejected
    found.record(host, 504)
    assert host.ejected and host.ejected_until == 130.0 and changes == [1]


def test_ejection_time_grows_and_the_sweep_brings_hosts_back() -> None:
    host, other = Host(), Host()
    clock = Clock()
    found, _ = detector(
        [host, other], clock, consecutive_5xx_errors=1, base_ejection_time=10.0, max_ejection_percent=50
    )
    found.record(host, 500)
    clock.now = 109.0
    found.sweep()
    assert host.ejected
    clock.now = 110.0
    found.sweep()
    assert not host.ejected
    found.record(host, 500)
    assert host.ejection_count == 2 and host.ejected_until == 130.0


def test_max_ejection_percent_but_always_one() -> None:
    hosts = [Host() for _ in range(4)]
    found, _ = detector(hosts, Clock(), consecutive_5xx_errors=1, max_ejection_percent=10)
    for host in hosts:
        found.record(host, 500)
    assert sum(host.ejected for host in hosts) == 1
    assert found.ejections_overflow == 3


def test_gateway_errors_only() -> None:
    host = Host()
    found, _ = detector(
        [host, Host()],
        Clock(),
        consecutive_5xx_errors=None,
        consecutive_gateway_errors=2,
        max_ejection_percent=100,
    )
    found.record(host, 500)
    found.record(host, 500)
    assert not host.ejected
    found.record(host, 502)
    found.record(host, 503)
    assert host.ejected
