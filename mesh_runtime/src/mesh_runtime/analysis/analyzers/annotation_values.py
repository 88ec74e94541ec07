"""Checks of the values of the Istio annotations the sidecar injector reads.

Each check returns None for a valid value, else the reason it is invalid. Where Istio's injector has the same
check, the reason reads as Istio's does (Go's `strconv` and `netip` errors included), since users search for
those texts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import yaml

from ..messages import go_quote

Check = Callable[[str], str | None]

_DIGITS = frozenset("0123456789")
_GO_TRUE_FALSE = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})
_INTERCEPTION_MODES = ("REDIRECT", "TPROXY", "NONE")
#: Kubernetes' quantity syntax (resource.ParseQuantity), and the suffixes it accepts.
_QUANTITY = re.compile(r"([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)")
_QUANTITY_SUFFIXES = frozenset(
    {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"}
)
_QUANTITY_EXPONENT = re.compile(r"[eE][-+]?[0-9]+")
_QUANTITY_FORMAT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
#: Linux network interface names: at most 15 bytes, no '/', no whitespace.
_INTERFACE_NAME = re.compile(r"[^/\s]{1,15}")


def parse_uint_error(text: str, bits: int) -> str | None:
    """Go's `strconv.ParseUint(text, 10, bits)` error, or None when `text` is such a number."""
    if not text or not set(text) <= _DIGITS:
        return f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax"
    if int(text) >= 1 << bits:
        return f"strconv.ParseUint: parsing {go_quote(text)}: value out of range"
    return None


def uint32(value: str) -> str | None:
    return parse_uint_error(value, 32)


def boolean(value: str) -> str | None:
    if value in _GO_TRUE_FALSE:
        return None
    return f"strconv.ParseBool: parsing {go_quote(value)}: invalid syntax"


def interception_mode(value: str) -> str | None:
    if value in _INTERCEPTION_MODES:
        return None
    return f"interceptionMode invalid, use {','.join(_INTERCEPTION_MODES)}: {value}"


def _port_error(text: str) -> str | None:
    reason = parse_uint_error(text.strip(), 16)
    return f"failed parsing port '{text}': {reason}" if reason else None


def status_port(value: str) -> str | None:
    reason = _port_error(value)
    # Istio's injector names the wrong parameter in this message; kept so the text matches istioctl's.
    return f"excludeInboundPorts invalid: {reason}" if reason else None


def _port_list_error(parameter: str, value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    for item in text.split(","):
        reason = _port_error(item)
        if reason:
            return f"{parameter} invalid: failed parsing port '{item}': {reason}"
    return None


def port_list(parameter: str, any_allowed: bool = False) -> Check:
    """A comma-separated port list (`*` for all ports, where allowed)."""

    def check(value: str) -> str | None:
        if any_allowed and value == "*":
            return None
        return _port_list_error(parameter, value)

    return check


def _prefix_error(text: str) -> str | None:
    """Go's `netip.ParsePrefix` error for a CIDR, or None when it is one."""
    address, slash, bits = text.rpartition("/")
    where = f"netip.ParsePrefix({go_quote(text)})"
    if not slash:
        return f"{where}: no '/'"
    if "%" in address:
        return f"{where}: IPv6 zones cannot be present in a prefix"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"{where}: ParseAddr({go_quote(address)}): unable to parse IP"
    if not bits or not set(bits) <= _DIGITS or (len(bits) > 1 and bits[0] == "0"):
        return f"{where}: bad bits after slash: {go_quote(bits)}"
    if int(bits) > parsed.max_prefixlen:
        return f"{where}: prefix length out of range"
    return None


def cidr_list(parameter: str, any_allowed: bool = False) -> Check:
    """A comma-separated list of CIDRs (`*` for all addresses, where allowed)."""

    def check(value: str) -> str | None:
        if (any_allowed and value == "*") or not value:
            return None
        for cidr in value.split(","):
            reason = _prefix_error(cidr)
            if reason:
                return f"{parameter} invalid: failed parsing cidr '{cidr}': {reason}"
        return None

    return check


def interface_list(value: str) -> str | None:
    """A comma-separated list of network interface names (empty items are ignored)."""
    for item in value.split(","):
        name = item.strip()
        if name and not _INTERFACE_NAME.fullmatch(name):
            return f"invalid interface name '{name}': use 1 to 15 characters without '/' or spaces"
    return None


def quantity(value: str) -> str | None:
    """A Kubernetes resource quantity (`100m`, `1.5Gi`, `2e3`)."""
    match = _QUANTITY.fullmatch(value)
    if not match or match.group(1).count(".") > 1 or not set(match.group(1)) & _DIGITS:
        return _QUANTITY_FORMAT
    suffix = match.group(2)
    if suffix not in _QUANTITY_SUFFIXES and not _QUANTITY_EXPONENT.fullmatch(suffix):
        return "unable to parse quantity's suffix"
    return None


def proxy_config(value: str) -> str | None:
    """A ProxyConfig as YAML (or JSON): it must at least be a mapping of fields."""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        return f"failed to convert to apply proxy config: {problem}"
    if parsed is not None and not isinstance(parsed, dict):
        return "failed to convert to apply proxy config: a ProxyConfig must be a mapping of fields"
    return None


#: The annotations whose values are checked, and how.
CHECKS: dict[str, Check] = {
    "sidecar.istio.io/interceptionMode": interception_mode,
    "status.sidecar.istio.io/port": status_port,
    "readiness.status.sidecar.istio.io/initialDelaySeconds": uint32,
    "readiness.status.sidecar.istio.io/periodSeconds": uint32,
    "readiness.status.sidecar.istio.io/failureThreshold": uint32,
    "traffic.sidecar.istio.io/includeOutboundIPRanges": cidr_list("includeIPRanges", any_allowed=True),
    "traffic.sidecar.istio.io/excludeOutboundIPRanges": cidr_list("excludeIPRanges"),
    "traffic.sidecar.istio.io/includeInboundPorts": port_list("includeInboundPorts", any_allowed=True),
    "traffic.sidecar.istio.io/excludeInboundPorts": port_list("excludeInboundPorts"),
    "traffic.sidecar.istio.io/excludeOutboundPorts": port_list("excludeOutboundPorts"),
    "traffic.sidecar.istio.io/excludeInterfaces": interface_list,
    "traffic.sidecar.istio.io/kubevirtInterfaces": interface_list,
    "istio.io/reroute-virtual-interfaces": interface_list,
    "prometheus.istio.io/merge-metrics": boolean,
    "proxy.istio.io/config": proxy_config,
    "sidecar.istio.io/proxyCPU": quantity,
    "sidecar.istio.io/proxyMemory": quantity,
    "sidecar.istio.io/proxyCPULimit": quantity,
    "sidecar.istio.io/proxyMemoryLimit": quantity,
}


def invalid_reason(annotation: str, value: str) -> str | None:
    """Why `value` is not valid for `annotation`; None when it is, or when its values are not checked."""
    check = CHECKS.get(annotation)
    return check(value) if check else None
