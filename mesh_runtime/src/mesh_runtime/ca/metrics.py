"""The CA's metrics, named as Istio's CA names them, in Prometheus text exposition format.

Dependency-free on purpose: meshd merges every part's metrics into one /metrics page later. Who counts what:
the CA server counts received CSRs and authentication failures; `CertificateAuthority` counts issued
certificates, CSR parsing errors and signing errors (by error type) and sets the expiry gauges.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from datetime import datetime

CSR_COUNT = "citadel_server_csr_count"
SUCCESS_CERT_ISSUANCE_COUNT = "citadel_server_success_cert_issuance_count"
AUTHENTICATION_FAILURE_COUNT = "citadel_server_authentication_failure_count"
CSR_PARSING_ERR_COUNT = "citadel_server_csr_parsing_err_count"
CSR_SIGN_ERR_COUNT = "citadel_server_csr_sign_err_count"
ROOT_CERT_EXPIRY_TIMESTAMP = "citadel_server_root_cert_expiry_timestamp"
CERT_CHAIN_EXPIRY_TIMESTAMP = "citadel_server_cert_chain_expiry_timestamp"
#: The label of citadel_server_csr_sign_err_count: CSR_ERROR, TTL_ERROR, CERT_GEN_ERROR, ...
ERROR_LABEL = "error"


class MetricFamily:
    """One metric name with its help text and its samples, one per combination of label values."""

    kind = "untyped"

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...] = ()) -> None:
        self.name = name
        self.help_text = help_text
        self.label_names = label_names
        self._values: dict[tuple[str, ...], float] = {}
        self._lock = threading.Lock()

    def value(self, *label_values: str) -> float | None:
        with self._lock:
            return self._values.get(label_values)

    def samples(self) -> list[tuple[tuple[str, ...], float]]:
        with self._lock:
            return sorted(self._values.items())

    def render(self) -> str:
        return _render_family(self.name, self.kind, self.help_text, self.label_names, self.samples())

    def _check_labels(self, label_values: tuple[str, ...]) -> None:
        if len(label_values) != len(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {label_values}")


class Counter(MetricFamily):
    """A count that only goes up; without labels it shows 0 before the first event."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...] = ()) -> None:
        super().__init__(name, help_text, label_names)
        if not label_names:
            self._values[()] = 0.0

    def increment(self, *label_values: str, amount: float = 1.0) -> None:
        self._check_labels(label_values)
        if amount < 0:
            raise ValueError(f"{self.name} is a counter: it cannot go down by {amount}")
        with self._lock:
            self._values[label_values] = self._values.get(label_values, 0.0) + amount


class Gauge(MetricFamily):
    """A value that is set, not counted; it has no sample until it is first set."""

    kind = "gauge"

    def set(self, value: float, *label_values: str) -> None:
        self._check_labels(label_values)
        with self._lock:
            self._values[label_values] = value


class CAMetrics:
    """Every metric of the CA, with methods named for the events that move them."""

    def __init__(self) -> None:
        self.csr_count = Counter(CSR_COUNT, "The number of CSRs received by the CA server.")
        self.success_cert_issuance_count = Counter(
            SUCCESS_CERT_ISSUANCE_COUNT, "The number of certificates issued successfully."
        )
        self.authentication_failure_count = Counter(
            AUTHENTICATION_FAILURE_COUNT,
            "The number of CSRs refused because the caller failed authentication.",
        )
        self.csr_parsing_err_count = Counter(
            CSR_PARSING_ERR_COUNT, "The number of CSRs that could not be parsed or were not acceptable."
        )
        self.csr_sign_err_count = Counter(
            CSR_SIGN_ERR_COUNT, "The number of CSRs that failed to be signed, by error type.", (ERROR_LABEL,)
        )
        self.root_cert_expiry_timestamp = Gauge(
            ROOT_CERT_EXPIRY_TIMESTAMP,
            "The unix timestamp, in seconds, when the CA's root certificate expires.",
        )
        self.cert_chain_expiry_timestamp = Gauge(
            CERT_CHAIN_EXPIRY_TIMESTAMP,
            "The unix timestamp, in seconds, when the plugged-in CA's signing certificate chain expires.",
        )

    def families(self) -> list[MetricFamily]:
        return [
            self.csr_count,
            self.success_cert_issuance_count,
            self.authentication_failure_count,
            self.csr_parsing_err_count,
            self.csr_sign_err_count,
            self.root_cert_expiry_timestamp,
            self.cert_chain_expiry_timestamp,
        ]

    def record_csr(self) -> None:
        self.csr_count.increment()

    def record_authentication_failure(self) -> None:
        self.authentication_failure_count.increment()

    def record_success(self) -> None:
        self.success_cert_issuance_count.increment()

    def record_csr_parsing_error(self) -> None:
        self.csr_parsing_err_count.increment()

    def record_sign_error(self, error_type: str) -> None:
        self.csr_sign_err_count.increment(error_type)

    def record_certs_expiry(self, root_expiry: datetime, chain_expiry: datetime | None) -> None:
        self.root_cert_expiry_timestamp.set(root_expiry.timestamp())
        if chain_expiry is not None:
            self.cert_chain_expiry_timestamp.set(chain_expiry.timestamp())

    def render_prometheus(self) -> str:
        return render_prometheus(self.families())


def render_prometheus(families: Iterable[MetricFamily]) -> str:
    """Prometheus text exposition (version 0.0.4) of the metric families, in the order given."""
    return "".join(family.render() for family in families)


def _render_family(
    name: str,
    kind: str,
    help_text: str,
    label_names: tuple[str, ...],
    samples: list[tuple[tuple[str, ...], float]],
) -> str:
    lines = [f"# HELP {name} {_escape_help(help_text)}", f"# TYPE {name} {kind}"]
    for label_values, value in samples:
        labels = ",".join(
            f'{label}="{_escape_label_value(text)}"'
            for label, text in zip(label_names, label_values, strict=True)
        )
        lines.append(
            f"{name}{{{labels}}} {_format_value(value)}" if labels else f"{name} {_format_value(value)}"
        )
    return "\n".join(lines) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 2**53:
        return str(int(value))
    return repr(value)
