from __future__ import annotations

import pytest

from mesh_runtime.analysis.analyzers.annotation_values import invalid_reason


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        ("sidecar.istio.io/interceptionMode", "TPROXY"),
        ("status.sidecar.istio.io/port", "0"),
        ("status.sidecar.istio.io/port", " 15020 "),
        ("readiness.status.sidecar.istio.io/periodSeconds", "4294967295"),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", "*"),
        ("traffic.sidecar.istio.io/includeOutboundIPRanges", ""),
        ("traffic.sidecar.istio.io/excludeOutboundIPRanges", "10.0.0.0/8,fd00::/8,192.168.1.7/32"),
        ("traffic.sidecar.istio.io/includeInboundPorts", "*"),
        ("traffic.sidecar.istio.io/excludeInboundPorts", "15020, 9090"),
        ("traffic.sidecar.istio.io/excludeOutboundPorts", ""),
        ("traffic.sidecar.istio.io/excludeInterfaces", "eth1,net1,"),
        ("prometheus.istio.io/merge-metrics", "False"),
        ("proxy.istio.io/config", "{}"),
        ("proxy.istio.io/config", "holdApplicationUntilProxyStarts: true"),
        ("sidecar.istio.io/proxyCPU", "100m"),
        ("sidecar.istio.io/proxyMemory", "1.5Gi"),
        ("sidecar.istio.io/proxyMemoryLimit", "2e9"),
        ("sidecar.istio.io/logLevel", "anything: values of this one are not checked"),
    ],
)
def test_valid_values(annotation: str, value: str) -> None:
    assert invalid_reason(annotation, value) is None


@pytest.mark.parametrize(
    ("annotation", "value", "reason"),
    [
        (
            "readiness.status.sidecar.istio.io/initialDelaySeconds",
            "-1",
            'strconv.ParseUint: parsing "-1": invalid syntax',
        ),
        (
            "readiness.status.sidecar.istio.io/failureThreshold",
            "4294967296",
            'strconv.ParseUint: parsing "4294967296": value out of range',
        ),
        (
            "status.sidecar.istio.io/port",
            "70000",
            "excludeInboundPorts invalid: failed parsing port '70000': "
            'strconv.ParseUint: parsing "70000": value out of range',
        ),
        (
            "traffic.sidecar.istio.io/includeInboundPorts",
            "80,http",
            "includeInboundPorts invalid: failed parsing port 'http': failed parsing port 'http': "
            'strconv.ParseUint: parsing "http": invalid syntax',
        ),
        (
            "traffic.sidecar.istio.io/includeOutboundIPRanges",
            "10.0.0.0/33",
            "includeIPRanges invalid: failed parsing cidr '10.0.0.0/33': "
            'netip.ParsePrefix("10.0.0.0/33"): prefix length out of range',
        ),
        (
            "traffic.sidecar.istio.io/excludeOutboundIPRanges",
            "10.0.0/8",
            "excludeIPRanges invalid: failed parsing cidr '10.0.0/8': "
            'netip.ParsePrefix("10.0.0/8"): ParseAddr("10.0.0"): unable to parse IP',
        ),
        (
            "traffic.sidecar.istio.io/excludeOutboundIPRanges",
            "10.0.0.0/08",
            "excludeIPRanges invalid: failed parsing cidr '10.0.0.0/08': "
            'netip.ParsePrefix("10.0.0.0/08"): bad bits after slash: "08"',
        ),
        ("prometheus.istio.io/merge-metrics", "yes", 'strconv.ParseBool: parsing "yes": invalid syntax'),
        (
            "sidecar.istio.io/proxyCPU",
            "1 core",
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        ("sidecar.istio.io/proxyMemory", "1Mm", "unable to parse quantity's suffix"),
        (
            "istio.io/reroute-virtual-interfaces",
            "eth0,a/b",
            "invalid interface name 'a/b': use 1 to 15 characters without '/' or spaces",
        ),
        (
            "proxy.istio.io/config",
            "[concurrency]",
            "failed to convert to apply proxy config: a ProxyConfig must be a mapping of fields",
        ),
    ],
)
def test_invalid_values_say_why(annotation: str, value: str, reason: str) -> None:
    assert invalid_reason(annotation, value) == reason
