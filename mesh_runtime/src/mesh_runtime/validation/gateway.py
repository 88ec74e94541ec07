"""Gateway (networking.istio.io): schema, servers, ports, hosts and server TLS (also used by Sidecar)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..resources.fields import indexed_strings, mapping, sequence, text
from . import formats
from .common import BOOLEAN, STRING, STRINGS, UINT32
from .dsl import Choice, ListOf, MapOf, Report, Text, as_integer, record
from .findings import Path, quoted

UNIX_PREFIX = "unix://"
TLS_VERSIONS = ("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3")
TLS_MODES = ("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL")
#: Cipher suites Envoy (BoringSSL) accepts in tls.cipherSuites.
CIPHER_SUITES = frozenset(
    {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "ECDHE-ECDSA-AES128-SHA",
        "ECDHE-RSA-AES128-SHA",
        "ECDHE-ECDSA-AES256-SHA",
        "ECDHE-RSA-AES256-SHA",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
        "AES128-SHA",
        "AES256-SHA",
        "DES-CBC3-SHA",
    }
)
#: Protocols a port may declare (any case): Istio's protocol names.
PROTOCOLS = {
    name.lower(): name
    for name in (
        "TCP",
        "UDP",
        "GRPC",
        "GRPC-Web",
        "HTTP",
        "HTTP_PROXY",
        "HTTP2",
        "HTTPS",
        "TLS",
        "Mongo",
        "Redis",
        "MySQL",
    )
}
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web"})
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
TCP_PROTOCOLS = frozenset({"TCP", "HTTPS", "TLS", "Mongo", "Redis", "MySQL"})
_PROTOCOL_LIST = "HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, TCP, TLS, MONGO, REDIS, MYSQL"


def protocol(name: str) -> str | None:
    """Istio's name of a protocol written in any case, or None when it is not one."""
    return PROTOCOLS.get(name.lower())


def protocol_problem(name: str) -> str | None:
    if name == "" or protocol(name) is not None:
        return None
    return f"{quoted(name)} is not a protocol Istio knows; use one of {_PROTOCOL_LIST}"


def check_unix_address(report: Report, path: Path, address: str) -> None:
    """A Unix domain socket path after `unix://`: absolute (or abstract, `@name`), not a directory."""
    if address == "":
        report.error(path, "a unix:// address needs a socket path")
    elif not address.startswith("@") and (not address.startswith("/") or address.endswith("/")):
        report.error(path, f"{quoted(address)} must be an absolute path to a socket file (or @name)")


def check_bind(report: Report, path: Path, bind: Any) -> None:
    if not isinstance(bind, str) or bind == "":
        return
    if bind.startswith(UNIX_PREFIX):
        check_unix_address(report, path, bind[len(UNIX_PREFIX) :])
    else:
        problem = formats.ip_address(bind)
        if problem:
            report.error(path, f"bind must be an IP address or unix:// socket: {problem}")


# ---- server TLS ----------------------------------------------------------------------------------


def _check_server_tls(tls: Mapping[str, Any], path: Path, report: Report) -> None:
    mode = tls.get("mode") or "PASSTHROUGH"
    ciphers = [cipher for _, cipher in indexed_strings(tls.get("cipherSuites"))]
    if tls.get("minProtocolVersion") in ("TLSV1_0", "TLSV1_1") and not ciphers:
        report.warning(
            (*path, "minProtocolVersion"),
            "TLS versions below 1.2 need cipherSuites that support them (the default ciphers do not)",
        )
    invalid = sorted({c for c in ciphers if c and c != "ALL" and c[0].isalnum() and c not in CIPHER_SUITES})
    if invalid:
        report.warning((*path, "cipherSuites"), f"unknown cipher suites are ignored: {', '.join(invalid)}")
    duplicates = sorted({c for c in ciphers if ciphers.count(c) > 1}) if len(ciphers) <= 256 else []
    if duplicates:
        report.warning(
            (*path, "cipherSuites"), f"duplicate cipher suites are ignored: {', '.join(duplicates)}"
        )
    _check_credential_sources(tls, path, report)
    has_credential = any(tls.get(name) for name in ("credentialName", "credentialNames", "tlsCertificates"))
    if mode == "ISTIO_MUTUAL":
        for name in ("serverCertificate", "privateKey", "caCertificates", "credentialName"):
            if tls.get(name):
                report.error((*path, name), f"ISTIO_MUTUAL uses Istio's certificates; remove {name}")
        return
    certificates = ("caCrl", "serverCertificate", "privateKey", "caCertificates", "credentialName")
    if mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH") and any(tls.get(name) for name in certificates):
        report.warning(
            path, f"{mode} passes TLS through without terminating it; its certificates are ignored"
        )
    if mode in ("SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL") and has_credential:
        return
    if mode == "SIMPLE":
        for name in ("serverCertificate", "privateKey"):
            if not tls.get(name):
                report.error(
                    (*path, name), "SIMPLE TLS needs credentialName, or serverCertificate and privateKey"
                )
    elif mode in ("MUTUAL", "OPTIONAL_MUTUAL"):
        for name in ("serverCertificate", "privateKey", "caCertificates"):
            if not tls.get(name):
                report.error(
                    (*path, name),
                    f"{mode} TLS needs credentialName, or serverCertificate, privateKey and caCertificates",
                )
    if tls.get("caCrl"):
        if tls.get("credentialName"):
            report.error(
                (*path, "caCrl"), "with credentialName, put the CRL in the credential (ca.crl), not caCrl"
            )
        if mode == "SIMPLE":
            report.error((*path, "caCrl"), "a CRL is not used with SIMPLE TLS (no client certificates)")


def _check_credential_sources(tls: Mapping[str, Any], path: Path, report: Report) -> None:
    present = [
        name for name in ("credentialName", "credentialNames", "tlsCertificates") if tls.get(name) is not None
    ]
    if len(present) > 1:
        report.error(
            path,
            "only one of credentialName, credentialNames or tlsCertificates may be set, "
            f"found {' and '.join(present)}",
        )


SERVER_TLS = record(
    {
        "caCertCredentialName": STRING,
        "caCertificates": STRING,
        "caCrl": STRING,
        "cipherSuites": STRINGS,
        "credentialName": STRING,
        "credentialNames": ListOf(STRING, min_items=1, max_items=2),
        "ecdhCurves": STRINGS,
        "httpsRedirect": BOOLEAN,
        "insecureSkipVerify": BOOLEAN,
        "maxProtocolVersion": Choice(TLS_VERSIONS),
        "minProtocolVersion": Choice(TLS_VERSIONS),
        "mode": Choice(TLS_MODES),
        "privateKey": STRING,
        "serverCertificate": STRING,
        "subjectAltNames": STRINGS,
        "tlsCertificates": ListOf(
            record({"caCertificates": STRING, "privateKey": STRING, "serverCertificate": STRING}),
            min_items=1,
            max_items=2,
        ),
        "verifyCertificateHash": STRINGS,
        "verifyCertificateSpki": STRINGS,
    },
    rules=(_check_server_tls,),
)

# ---- servers -------------------------------------------------------------------------------------


def _check_port(port: Mapping[str, Any], path: Path, report: Report) -> None:
    name = port.get("protocol")
    if isinstance(name, str):
        problem = "must be a protocol, found an empty string" if name == "" else protocol_problem(name)
        if problem:
            report.error((*path, "protocol"), problem)
    if as_integer(port.get("targetPort")):
        report.error((*path, "targetPort"), "targetPort has no effect on a Gateway; remove it")
    if port.get("name") == "":
        report.error((*path, "name"), "a server port needs a name")


GATEWAY_PORT = record(
    {"name": STRING, "number": UINT32, "protocol": STRING, "targetPort": UINT32},
    required=("number", "protocol", "name"),
    rules=(_check_port,),
)


def gateway_host(value: str) -> str | None:
    """A Gateway server host: `[namespace/]dnsName`; namespace `*`, `.` or a name."""
    namespace, slash, dns_name = value.partition("/")
    if not slash:
        return _host_part(value, gateway=True)
    if not namespace or not dns_name:
        return f"must be <namespace>/<host name>, with neither part empty, found {quoted(value)}"
    if namespace not in ("*", ".") and not formats.is_dns1123_label(namespace):
        return f"{quoted(namespace)} is not a namespace: use *, . or a namespace name before the /"
    return _host_part(dns_name, gateway=True)


def sidecar_host(value: str) -> str | None:
    """A Sidecar egress host: `namespace/dnsName`; namespace `*`, `.`, `~` or a name."""
    namespace, slash, dns_name = value.partition("/")
    if not slash:
        return f"must be <namespace>/<host name> (such as ./* or istio-system/*), found {quoted(value)}"
    if not namespace or not dns_name:
        return f"must be <namespace>/<host name>, with neither part empty, found {quoted(value)}"
    if namespace not in ("*", ".", "~") and not formats.is_dns1123_label(namespace):
        return f"{quoted(namespace)} is not a namespace: use *, ., ~ or a namespace name before the /"
    return _host_part(dns_name, gateway=False)


def _host_part(name: str, gateway: bool) -> str | None:
    if name != "*" and "." not in name:
        return f"{quoted(name)} is a short name; use a fully qualified name (with dots), a wildcard or *"
    problem = formats.wildcard_host(name)
    if problem and not (gateway and formats.is_ip_address(name)):
        return problem
    return formats.partial_wildcard(name)


def _check_server(server: Mapping[str, Any], path: Path, report: Report) -> None:
    hosts = server.get("hosts")
    if isinstance(hosts, list) and not hosts:
        report.error((*path, "hosts"), "a server needs at least one host")
    port = mapping(server.get("port"))
    bind = text(server.get("bind"))
    number = as_integer(port.get("number"))
    if number is not None and (number > 0 or not bind.startswith(UNIX_PREFIX)):
        problem = formats.port_number(number)
        if problem:
            report.error((*path, "port", "number"), problem)
    check_bind(report, (*path, "bind"), server.get("bind"))
    if bind.startswith(UNIX_PREFIX) and number:
        report.error((*path, "port", "number"), "a server bound to a unix:// socket must use port number 0")
    _check_tls_for_protocol(server, port, path, report)


def _check_tls_for_protocol(
    server: Mapping[str, Any], port: Mapping[str, Any], path: Path, report: Report
) -> None:
    name = protocol(text(port.get("protocol")))
    if name is None or port.get("number") is None or not port.get("name"):
        return
    tls = server.get("tls")
    if name in TLS_PROTOCOLS and tls is None:
        report.error(
            (*path, "tls"), f"a server with protocol {name} needs tls settings (mode and credentials)"
        )
    elif name not in TLS_PROTOCOLS and isinstance(tls, Mapping):
        passthrough = (tls.get("mode") or "PASSTHROUGH") in ("PASSTHROUGH", "AUTO_PASSTHROUGH")
        certificates = any(tls.get(n) for n in ("caCertificates", "privateKey", "serverCertificate"))
        if name in HTTP_PROTOCOLS:
            if not passthrough or certificates:
                report.error(
                    (*path, "tls"),
                    f"a plain-text {name} server can only use tls.httpsRedirect; "
                    "use protocol HTTPS to terminate TLS",
                )
        else:
            report.error(
                (*path, "tls"), f"a {name} server cannot have tls settings; use protocol HTTPS or TLS"
            )


SERVER = record(
    {
        "bind": STRING,
        "defaultEndpoint": STRING,
        "hosts": ListOf(Text((gateway_host,))),
        "name": STRING,
        "port": GATEWAY_PORT,
        "tls": SERVER_TLS,
    },
    required=("port", "hosts"),
    rules=(_check_server,),
)


def _check_spec(spec: Mapping[str, Any], path: Path, report: Report) -> None:
    if report.name and not formats.is_dns1123_label(report.name):
        report.error(
            ("metadata", "name"),
            f"{quoted(report.name)} is not a valid Gateway name: use letters, digits and '-' (no dots), "
            "at most 63 characters",
        )
    servers = sequence(spec.get("servers"))
    if not servers:
        report.error((*path, "servers"), "a Gateway needs at least one server")
    names: dict[str, int] = {}
    for index, server in enumerate(servers):
        port = mapping(mapping(server).get("port"))
        if not port:
            continue
        name = port.get("name")
        key = name if isinstance(name, str) else ""
        if key in names:
            report.error(
                (*path, "servers", index, "port", "name"),
                f"port names must be unique across servers: {quoted(key)} is also servers[{names[key]}]",
            )
        names.setdefault(key, index)
        redirect = mapping(mapping(server).get("tls")).get("httpsRedirect") is True
        if redirect and protocol(text(port.get("protocol"))) not in HTTP_PROTOCOLS:
            report.warning(
                (*path, "servers", index, "tls", "httpsRedirect"),
                "httpsRedirect only applies to HTTP servers",
            )


SPEC = record(
    {"selector": MapOf(STRING), "servers": ListOf(SERVER)},
    rules=(_check_spec,),
)
