"""Sidecar (networking.istio.io): schema, ingress and egress listeners, outbound traffic policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources.fields import indexed_strings, mapping, sequence, text
from . import formats
from .common import DESTINATION, STRING, UINT32, is_set, networking_selector
from .destinationrule import CONNECTION_POOL
from .dsl import Choice, ListOf, Report, Text, as_integer, record
from .findings import Path, quoted
from .gateway import (
    HTTP_PROTOCOLS,
    SERVER_TLS,
    UNIX_PREFIX,
    check_bind,
    check_unix_address,
    protocol,
    sidecar_host,
)

CAPTURE_MODES = ("DEFAULT", "IPTABLES", "NONE")
_LOOPBACK_OR_ANY = ("127.0.0.1", "0.0.0.0", "::1", "::")


def _check_sidecar_port(port: Mapping[str, Any], path: Path, report: Report) -> None:
    name = port.get("name")
    if isinstance(name, str) and name:
        problem = formats.dns1123_label(name)
        if problem:
            report.error((*path, "name"), f"port {problem}")
    declared = port.get("protocol")
    if isinstance(declared, str) and declared and protocol(declared) is None:
        report.error((*path, "protocol"), f"{quoted(declared)} is not a protocol Istio knows")
    if as_integer(port.get("targetPort")):
        report.error((*path, "targetPort"), "targetPort has no effect on a Sidecar; remove it")


SIDECAR_PORT = record(
    {"name": STRING, "number": UINT32, "protocol": STRING, "targetPort": UINT32},
    rules=(_check_sidecar_port,),
)


def _check_default_endpoint(report: Report, path: Path, endpoint: str) -> None:
    if endpoint.startswith(UNIX_PREFIX):
        check_unix_address(report, path, endpoint[len(UNIX_PREFIX) :])
        return
    host, colon, port = endpoint.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    expected = "must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port>, :<port> or unix://<path>"
    if not colon or (host and host not in _LOOPBACK_OR_ANY):
        report.error(path, f"{expected}, found {quoted(endpoint)}")
        return
    if not port.isdigit():
        report.error(path, f"{expected}; the port {quoted(port)} is not a number")
        return
    problem = formats.port_number(int(port))
    if problem:
        report.error(path, problem)


def _check_ingress(listener: Mapping[str, Any], path: Path, report: Report) -> None:
    port = mapping(listener.get("port"))
    number = as_integer(port.get("number"))
    if number is not None or listener.get("port") is not None:
        problem = formats.port_number(number or 0)
        if problem:
            report.error((*path, "port", "number"), problem)
    check_bind(report, (*path, "bind"), listener.get("bind"))
    endpoint = listener.get("defaultEndpoint")
    if isinstance(endpoint, str) and endpoint:
        _check_default_endpoint(report, (*path, "defaultEndpoint"), endpoint)
    tls = listener.get("tls")
    if isinstance(tls, Mapping):
        where = (*path, "tls")
        if sequence(tls.get("subjectAltNames")):
            report.error(
                (*where, "subjectAltNames"), "subjectAltNames is not supported in Sidecar ingress TLS"
            )
        if tls.get("httpsRedirect") is True:
            report.error((*where, "httpsRedirect"), "httpsRedirect is not supported in a Sidecar")
        if tls.get("credentialName"):
            report.error((*where, "credentialName"), "credentialName is not supported in Sidecar ingress TLS")
        if tls.get("mode") in ("ISTIO_MUTUAL", "AUTO_PASSTHROUGH"):
            report.error((*where, "mode"), f"mode {tls['mode']} cannot be used for Sidecar ingress TLS")
    declared = protocol(text(port.get("protocol")))
    if is_set(mapping(listener.get("connectionPool")), "http") and declared not in HTTP_PROTOCOLS:
        report.warning(
            (*path, "connectionPool", "http"),
            f"HTTP connection pool settings apply only to HTTP ports; port {number} has protocol "
            f"{text(port.get('protocol')) or '(unset)'}, so only the tcp settings apply",
        )


INGRESS_LISTENER = record(
    {
        "bind": STRING,
        "captureMode": Choice(CAPTURE_MODES),
        "connectionPool": CONNECTION_POOL,
        "defaultEndpoint": STRING,
        "port": SIDECAR_PORT,
        "tls": SERVER_TLS,
    },
    required=("port",),
    rules=(_check_ingress,),
)


def _check_egress(listener: Mapping[str, Any], path: Path, report: Report) -> None:
    port = listener.get("port")
    if isinstance(port, Mapping):
        number = as_integer(port.get("number")) or 0
        bind = text(listener.get("bind"))
        if number == 0:
            if not bind.startswith(UNIX_PREFIX):
                report.error(
                    (*path, "port", "number"), "port 0 is only for listeners bound to a unix:// socket"
                )
            if listener.get("captureMode") not in (None, "DEFAULT", "NONE"):
                report.error(
                    (*path, "captureMode"), "a unix:// socket listener needs captureMode DEFAULT or NONE"
                )
        else:
            problem = formats.port_number(number)
            if problem:
                report.error((*path, "port", "number"), problem)
        check_bind(report, (*path, "bind"), listener.get("bind"))
    hosts = listener.get("hosts")
    if isinstance(hosts, list) and not hosts:
        report.error(
            (*path, "hosts"), "an egress listener needs at least one host (such as ./* or istio-system/*)"
        )
    _check_duplicate_hosts(report, (*path, "hosts"), hosts)


def _check_duplicate_hosts(report: Report, path: Path, hosts: Any) -> None:
    by_namespace: dict[str, set[str]] = {}
    for index, host in indexed_strings(hosts):
        namespace, slash, name = host.partition("/")
        if not slash:
            continue
        namespace = report.namespace if namespace == "." and report.namespace else namespace
        names = by_namespace.setdefault(namespace, set())
        if (name != "*" and (name in names or "*" in names)) or (name == "*" and names):
            report.warning((*path, index), f"duplicate egress host {quoted(host)}")
        names.add(name)
    if "*" in by_namespace.get("*", set()) and len(by_namespace) > 1:
        report.warning(path, '"*/*" already selects every host; the other hosts add nothing')


EGRESS_LISTENER = record(
    {
        "bind": STRING,
        "captureMode": Choice(CAPTURE_MODES),
        "hosts": ListOf(Text((sidecar_host,))),
        "port": SIDECAR_PORT,
    },
    required=("hosts",),
    rules=(_check_egress,),
)


def _check_outbound_policy(policy: Mapping[str, Any], path: Path, report: Report) -> None:
    proxy = policy.get("egressProxy")
    if proxy is None:
        return
    if policy.get("mode") != "ALLOW_ANY":
        report.error((*path, "egressProxy"), "egressProxy needs mode ALLOW_ANY")
        return
    proxy = mapping(proxy)
    host = proxy.get("host")
    if isinstance(host, str):
        problem = formats.fqdn(host)
        if problem:
            report.error((*path, "egressProxy", "host"), problem)
    if not is_set(proxy, "port"):
        report.error((*path, "egressProxy", "port"), "egressProxy needs a port")


OUTBOUND_TRAFFIC_POLICY = record(
    {"egressProxy": DESTINATION, "mode": Choice(("REGISTRY_ONLY", "ALLOW_ANY"))},
    rules=(_check_outbound_policy,),
)


def _check_spec(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    parts = ("egress", "ingress", "outboundTrafficPolicy", "inboundConnectionPool")
    if (
        not sequence(spec.get("egress"))
        and not sequence(spec.get("ingress"))
        and not any(is_set(spec, name) for name in parts[2:])
    ):
        report.error(path, f"a Sidecar must configure at least one of {', '.join(parts)}")
    _check_unique_ports(spec, "ingress", path, report)
    _check_unique_ports(spec, "egress", path, report)
    egress = sequence(spec.get("egress"))
    catch_all = [index for index, listener in enumerate(egress) if mapping(listener).get("port") is None]
    for position, index in enumerate(catch_all):
        if position > 0:
            report.error((*path, "egress", index), "only one egress listener may have no port")
        elif index != len(egress) - 1:
            report.error((*path, "egress", index), "the egress listener without a port must be the last one")


def _check_unique_ports(spec: Mapping[str, Any], section: str, path: Path, report: Report) -> None:
    ports: dict[int, int] = {}
    sockets: dict[str, int] = {}
    for index, listener in enumerate(sequence(spec.get(section))):
        listener = mapping(listener)
        number = as_integer(mapping(listener.get("port")).get("number"))
        if listener.get("port") is None:
            continue
        if number == 0 and section == "egress":
            bind = text(listener.get("bind"))
            if bind in sockets:
                report.error(
                    (*path, section, index, "bind"),
                    f"unix socket {quoted(bind)} is already used by {section}[{sockets[bind]}]",
                )
            sockets.setdefault(bind, index)
        elif number is not None:
            if number in ports:
                report.error(
                    (*path, section, index, "port", "number"),
                    f"port {number} is already used by {section}[{ports[number]}]; "
                    "listener ports must be unique",
                )
            ports.setdefault(number, index)


SPEC = record(
    {
        "egress": ListOf(EGRESS_LISTENER),
        "inboundConnectionPool": CONNECTION_POOL,
        "ingress": ListOf(INGRESS_LISTENER),
        "outboundTrafficPolicy": OUTBOUND_TRAFFIC_POLICY,
        "workloadSelector": networking_selector(" (the Sidecar applies to every workload in the namespace)"),
    },
    rules=(_check_spec,),
)
