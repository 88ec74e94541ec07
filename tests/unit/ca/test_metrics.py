from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from mesh_runtime.ca.metrics import CAMetrics, Counter, Gauge, render_prometheus

ISTIO_NAMES = [
    ("citadel_server_csr_count", "counter"),
    ("citadel_server_success_cert_issuance_count", "counter"),
    ("citadel_server_authentication_failure_count", "counter"),
    ("citadel_server_csr_parsing_err_count", "counter"),
    ("citadel_server_csr_sign_err_count", "counter"),
    ("citadel_server_root_cert_expiry_timestamp", "gauge"),
    ("citadel_server_cert_chain_expiry_timestamp", "gauge"),
]
# One sample line of the text exposition format: name, optional {labels}, value.
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def samples(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        found[line.rsplit(" ", 1)[0]] = match.group(4)
    return found


def test_every_istio_metric_has_help_and_type_lines() -> None:
    text = CAMetrics().render_prometheus()

    for name, kind in ISTIO_NAMES:
        assert re.search(rf"^# HELP {name} \S.*$", text, re.MULTILINE), name
        assert f"\n# TYPE {name} {kind}\n" in f"\n{text}"
    assert text.endswith("\n")


def test_counters_start_at_zero_and_gauges_unset() -> None:
    found = samples(CAMetrics().render_prometheus())

    assert found == {
        "citadel_server_csr_count": "0",
        "citadel_server_success_cert_issuance_count": "0",
        "citadel_server_authentication_failure_count": "0",
        "citadel_server_csr_parsing_err_count": "0",
    }


def test_events_move_their_metrics() -> None:
    metrics = CAMetrics()
    metrics.record_csr()
    metrics.record_csr()
    metrics.record_authentication_failure()
    metrics.record_success()
    metrics.record_csr_parsing_error()
    metrics.record_sign_error("CSR_ERROR")
    metrics.record_sign_error("TTL_ERROR")
    metrics.record_sign_error("TTL_ERROR")
    metrics.record_certs_expiry(
        datetime(2035, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, 12, 30, 15, 500000, tzinfo=UTC)
    )

    found = samples(metrics.render_prometheus())

    assert found["citadel_server_csr_count"] == "2"
    assert found["citadel_server_authentication_failure_count"] == "1"
    assert found["citadel_server_success_cert_issuance_count"] == "1"
    assert found["citadel_server_csr_parsing_err_count"] == "1"
    assert found['citadel_server_csr_sign_err_count{error="CSR_ERROR"}'] == "1"
    assert found['citadel_server_csr_sign_err_count{error="TTL_ERROR"}'] == "2"
    assert found["citadel_server_root_cert_expiry_timestamp"] == "2051222400"
    assert found["citadel_server_cert_chain_expiry_timestamp"] == "1811853015.5"


def test_label_values_and_help_are_escaped() -> None:
    counter = Counter("demo_total", "Line one\nback\\slash", ("path",))
    counter.increment('a "quoted"\\path\n')

    assert counter.render() == (
        "# HELP demo_total Line one\\nback\\\\slash\n"
        "# TYPE demo_total counter\n"
        'demo_total{path="a \\"quoted\\"\\\\path\\n"} 1\n'
    )


def test_a_counter_cannot_go_down_or_take_wrong_labels() -> None:
    counter = Counter("demo_total", "Demo.", ("error",))

    with pytest.raises(ValueError, match="cannot go down"):
        counter.increment("x", amount=-1)
    with pytest.raises(ValueError, match="takes labels"):
        counter.increment()


def test_families_render_in_the_order_given() -> None:
    gauge = Gauge("b_gauge", "B.")
    gauge.set(float("inf"))
    counter = Counter("a_total", "A.")

    text = render_prometheus([gauge, counter])

    assert text.index("b_gauge +Inf") < text.index("a_total 0")
