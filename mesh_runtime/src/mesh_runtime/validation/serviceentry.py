"""ServiceEntry (networking.istio.io): schema, hosts, addresses, ports, and resolution against endpoints."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..resources.fields import indexed_strings, mapping, sequence, text
from . import formats
from .common import STRING, STRINGS, UINT32, check_export_to, check_labels, is_set, networking_selector
from .dsl import Choice, Integer, ListOf, MapOf, Report, Text, as_integer, record
from .findings import Path, quoted
from .gateway import (
    HTTP_PROTOCOLS,
    TCP_PROTOCOLS,
    TLS_PROTOCOLS,
    UNIX_PREFIX,
    check_unix_address,
    protocol,
    protocol_problem,
)

RESOLUTIONS = ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")
#: The annotation that opts a ServiceEntry out of automatic VIP allocation.
AUTOALLOCATE_ANNOTATION = "networking.istio.io/enable-autoallocate-ip"
_ENDPOINT_PORT_NAME = re.compile(r"[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?\Z")


def _endpoint_port_name(name: str) -> str | None:
    if len(name) < 63 and _ENDPOINT_PORT_NAME.match(name):
        return None
    return f"{quoted(name)} is not a valid port name: letters, digits and '-', at most 62 characters"


def _check_host(value: str) -> str | None:
    if value == "*":
        return 'a ServiceEntry host cannot be "*": name the hosts (wildcards like *.example.com are allowed)'
    return formats.wildcard_host(value)


def _check_address(value: str) -> str | None:
    return formats.ip_or_cidr(value)


def _check_endpoint(endpoint: Mapping[str, Any], path: Path, report: Report) -> None:
    address = text(endpoint.get("address"))
    if not address and not endpoint.get("network"):
        report.error((*path, "address"), "an endpoint needs an address (or a network)")
    if address.startswith(UNIX_PREFIX):
        check_unix_address(report, (*path, "address"), address[len(UNIX_PREFIX) :])
        if endpoint.get("ports"):
            report.error((*path, "ports"), "a unix:// endpoint cannot have ports")
    check_labels(report, (*path, "labels"), endpoint.get("labels"))


ENDPOINT = record(
    {
        "address": Text(max_length=256),
        "labels": MapOf(STRING, max_properties=256),
        "locality": Text(max_length=2048),
        "network": Text(max_length=2048),
        "ports": MapOf(
            Integer(1, 65535, "a port number"), key_checks=(_endpoint_port_name,), max_properties=128
        ),
        "serviceAccount": Text(max_length=253),
        "weight": UINT32,
    },
    rules=(_check_endpoint,),
)


def _port_name(value: str) -> str | None:
    problem = formats.dns1123_label(value)
    return f"port {problem}" if problem else None


def _check_port(port: Mapping[str, Any], path: Path, report: Report) -> None:
    name = port.get("protocol")
    if isinstance(name, str):
        problem = protocol_problem(name)
        if problem:
            report.error((*path, "protocol"), problem)


SERVICE_PORT = record(
    {
        "name": Text((_port_name,), max_length=256),
        "number": Integer(1, 65535, "a port number"),
        "protocol": Text(max_length=256),
        "targetPort": Integer(1, 65535, "a port number"),
    },
    required=("number", "name"),
    rules=(_check_port,),
)


def _check_spec(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    resolution = text(spec.get("resolution")) if spec.get("resolution") in RESOLUTIONS else "NONE"
    endpoints = sequence(spec.get("endpoints"))
    has_selector = is_set(spec, "workloadSelector")
    hosts = [host for _, host in indexed_strings(spec.get("hosts"))]
    addresses = [address for _, address in indexed_strings(spec.get("addresses"))]
    if has_selector and spec.get("endpoints") is not None:
        report.error(path, "set workloadSelector or endpoints, not both")
    for index, host in indexed_strings(spec.get("hosts")):
        if host != "*" and not formats.wildcard_host(host):
            problem = formats.partial_wildcard(host)
            if problem:
                report.warning((*path, "hosts", index), problem)
    if any("/" in address for address in addresses) and resolution not in ("NONE", "STATIC"):
        report.error(
            (*path, "addresses"), f"CIDR addresses work only with resolution NONE or STATIC, not {resolution}"
        )
    port_names = _check_ports(spec, resolution, addresses, path, report)
    _check_resolution(spec, resolution, endpoints, hosts, addresses, port_names, path, report)
    if resolution != "NONE" and len(hosts) > 1:
        for index, port in enumerate(sequence(spec.get("ports"))):
            name = protocol(text(mapping(port).get("protocol")))
            if name not in HTTP_PROTOCOLS and name not in TLS_PROTOCOLS:
                report.error(
                    (*path, "ports", index),
                    "with more than one host, every port must be HTTP or TLS (plain TCP cannot tell "
                    "the hosts apart), unless resolution is NONE",
                )
                break
    check_export_to(report, (*path, "exportTo"), spec.get("exportTo"), service_entry=True)


def _check_ports(
    spec: Mapping[str, Any], resolution: str, addresses: list[str], path: Path, report: Report
) -> set[str]:
    names: dict[str, int] = {}
    numbers: dict[int, int] = {}
    auto_allocate = report.annotations.get(AUTOALLOCATE_ANNOTATION, "true").lower() != "false"
    for index, port in enumerate(sequence(spec.get("ports"))):
        port = mapping(port)
        where = (*path, "ports", index)
        name, number = port.get("name"), as_integer(port.get("number"))
        if isinstance(name, str):
            if name in names:
                report.error(
                    (*where, "name"), f"port name {quoted(name)} is already used by ports[{names[name]}]"
                )
            names.setdefault(name, index)
        if number is not None:
            if number in numbers:
                report.error(
                    (*where, "number"), f"port {number} is already defined by ports[{numbers[number]}]"
                )
            numbers.setdefault(number, index)
        if as_integer(port.get("targetPort")) and resolution == "NONE":
            report.warning((*where, "targetPort"), "targetPort has no effect when resolution is NONE")
        declared = text(port.get("protocol"))
        if not addresses and not auto_allocate and declared.upper() in ("", "TCP"):
            report.warning(
                where,
                "a TCP (or unset) protocol port needs addresses, unless the proxy allocates them "
                "(ISTIO_META_DNS_AUTO_ALLOCATE)",
            )
    return set(names)


def _check_resolution(
    spec: Mapping[str, Any],
    resolution: str,
    endpoints: Sequence[Any],
    hosts: list[str],
    addresses: list[str],
    port_names: set[str],
    path: Path,
    report: Report,
) -> None:
    has_selector = is_set(spec, "workloadSelector")
    if resolution == "NONE":
        if endpoints:
            report.error(
                (*path, "endpoints"), "resolution NONE uses the original destination; remove endpoints"
            )
        if has_selector:
            report.warning(
                (*path, "workloadSelector"), "workloadSelector has no effect when resolution is NONE"
            )
        return
    if resolution == "STATIC":
        for index, endpoint in enumerate(endpoints):
            address = text(mapping(endpoint).get("address"))
            where = (*path, "endpoints", index)
            if address and not address.startswith(UNIX_PREFIX) and not formats.is_ip_address(address):
                report.error(
                    (*where, "address"), f"resolution STATIC needs IP addresses, found {quoted(address)}"
                )
            _check_endpoint_ports(endpoint, port_names, where, report)
        if (
            any(text(mapping(e).get("address")).startswith(UNIX_PREFIX) for e in endpoints)
            and len(port_names) != 1
        ):
            report.error((*path, "ports"), "unix:// endpoints need exactly one service port")
        return
    if resolution in ("DNS", "DNS_ROUND_ROBIN"):
        if not endpoints:
            for index, host in enumerate(hosts):
                if formats.fqdn(host):
                    report.error(
                        (*path, "hosts", index),
                        f"resolution {resolution} without endpoints resolves the hosts, so they must be "
                        f"fully qualified names without wildcards, found {quoted(host)}",
                    )
        if resolution == "DNS_ROUND_ROBIN" and len(endpoints) > 1:
            report.error((*path, "endpoints"), "resolution DNS_ROUND_ROBIN allows at most one endpoint")
        for index, endpoint in enumerate(endpoints):
            address = text(mapping(endpoint).get("address"))
            where = (*path, "endpoints", index)
            if address and not formats.is_ip_address(address) and formats.fqdn(address):
                report.error(
                    (*where, "address"), f"must be a host name or an IP address, found {quoted(address)}"
                )
            _check_endpoint_ports(endpoint, port_names, where, report)
        tcp = any(
            protocol(text(mapping(p).get("protocol"))) in TCP_PROTOCOLS for p in sequence(spec.get("ports"))
        )
        if addresses and len(hosts) > 1 and tcp:
            report.warning(path, "with addresses and a TCP port, a ServiceEntry should have only one host")
    if has_selector:
        report.warning(
            (*path, "workloadSelector"), f"workloadSelector has no effect when resolution is {resolution}"
        )


def _check_endpoint_ports(endpoint: Any, port_names: set[str], path: Path, report: Report) -> None:
    for name, number in mapping(mapping(endpoint).get("ports")).items():
        if isinstance(name, str) and name not in port_names:
            report.error(
                (*path, "ports", name), f"endpoint port {quoted(name)} is not one of the ServiceEntry's ports"
            )
        del number


SPEC = record(
    {
        "addresses": ListOf(Text((_check_address,), max_length=64), max_items=256),
        "endpoints": ListOf(ENDPOINT, max_items=4096),
        "exportTo": STRINGS,
        "hosts": ListOf(Text((_check_host,)), min_items=1, max_items=256),
        "location": Choice(("MESH_EXTERNAL", "MESH_INTERNAL")),
        "ports": ListOf(SERVICE_PORT, max_items=256),
        "resolution": Choice(RESOLUTIONS),
        "subjectAltNames": STRINGS,
        "workloadSelector": networking_selector(" (the ServiceEntry would apply to every workload)"),
    },
    required=("hosts",),
    rules=(_check_spec,),
)
