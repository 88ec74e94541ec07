"""validate(): the findings for bad config name the field and say what is wrong and what is expected."""

from __future__ import annotations

import dataclasses

import pytest

from mesh_runtime.resources import parse_resource
from mesh_runtime.validation import Finding, validate

from .conftest import FindingsOf, ResourceBuilder, errors, warnings

VALID_VS = """
hosts: [reviews]
http:
- route:
  - destination: {host: reviews, subset: v1}
"""


def only_error(found: list[Finding]) -> Finding:
    problems = errors(found)
    assert len(problems) == 1, [f.message for f in found]
    return problems[0]


# ---- the Finding API -----------------------------------------------------------------------------


def test_finding_is_frozen_and_gives_istios_line_key() -> None:
    finding = Finding("error", "spec.http[0].route[1].weight", "spec.http[0].route[1].weight: bad")
    assert finding.line_key == "{.spec.http[0].route[1].weight}"
    assert Finding("error", "", "whole resource").line_key is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.level = "warning"  # type: ignore[misc]


def test_valid_resource_has_no_findings(findings_of: FindingsOf) -> None:
    assert findings_of("VirtualService", VALID_VS) == []


@pytest.mark.parametrize("kind", ["Service", "Ingress"])
def test_kinds_not_modelled_are_not_validated(kind: str) -> None:
    api_version = "v1" if kind == "Service" else "networking.k8s.io/v1"
    resource = parse_resource(
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}, "spec": {"anything": ["goes"]}}
    )
    assert not resource.kind.modelled
    assert validate(resource) == []


# ---- exact messages for the problems users hit most ----------------------------------------------

EXACT = [
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{route: [{destination: {host: reviews}, weight: -5}, {destination: {host: "
        "r}}]}]",
        "spec.http[0].route[0].weight",
        "spec.http[0].route[0].weight: must be 0 or more, found -5",
        id="negative-weight",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{route: [{destination: {host: reviews}, weight: fifty}]}]",
        "spec.http[0].route[0].weight",
        'spec.http[0].route[0].weight: must be an integer, found "fifty"',
        id="weight-wrong-type",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{timeout: 1x, route: [{destination: {host: reviews}}]}]",
        "spec.http[0].timeout",
        'spec.http[0].timeout: must be a duration such as 500ms, 10s, 1m or 1h30m, found "1x"',
        id="bad-duration",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{route: [{destination: {host: reviews, port: {number: 70000}}}]}]",
        "spec.http[0].route[0].destination.port.number",
        "spec.http[0].route[0].destination.port.number: must be a port number from 1 to 65535, found 70000",
        id="bad-port",
    ),
    pytest.param(
        "VirtualService",
        "hosts: ['*.foo.*']\nhttp: [{route: [{destination: {host: reviews}}]}]",
        "spec.hosts[0]",
        'spec.hosts[0]: "*.foo.*" is not a valid host name: label "*" is invalid; a wildcard may only be the '
        "whole leftmost label, as in *.example.com",
        id="bad-host",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{rout: [], route: [{destination: {host: reviews}}]}]",
        "spec.http[0].rout",
        "spec.http[0].rout: unknown field; did you mean route?",
        id="unknown-field-typo",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{route: [{destination: {subset: v1}}]}]",
        "spec.http[0].route[0].destination.host",
        "spec.http[0].route[0].destination.host: required field is not set",
        id="missing-required",
    ),
    pytest.param(
        "VirtualService",
        "hosts: reviews\nhttp: [{route: [{destination: {host: reviews}}]}]",
        "spec.hosts",
        'spec.hosts: must be a list, found "reviews"',
        id="string-for-list",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{match: [{uri: {regex: '(?=/api)'}}], route: [{destination: {host: r}}]}]",
        "spec.http[0].match[0].uri.regex",
        'spec.http[0].match[0].uri.regex: "(?=/api)" is not a valid RE2 regular expression (invalid perl '
        "operator: (?=); Istio matches with RE2 syntax (https://github.com/google/re2/wiki/Syntax): no "
        "lookahead, lookbehind or backreferences",
        id="invalid-regex",
    ),
    pytest.param(
        "VirtualService",
        "hosts: [reviews]\nhttp: [{corsPolicy: {unmatchedPreflights: forward}, route: [{destination: {host: "
        "r}}]}]",
        "spec.http[0].corsPolicy.unmatchedPreflights",
        "spec.http[0].corsPolicy.unmatchedPreflights: must be one of UNSPECIFIED, FORWARD, IGNORE, found "
        '"forward"; '
        "did you mean FORWARD?",
        id="bad-enum",
    ),
    pytest.param(
        "AuthorizationPolicy",
        "rules: [{to: [{operation: {ports: [8080]}}]}]",
        "spec.rules[0].to[0].operation.ports[0]",
        "spec.rules[0].to[0].operation.ports[0]: must be a string, found 8080; quote it to make it a string",
        id="number-for-string",
    ),
    pytest.param(
        "PeerAuthentication",
        "mtls: {mode: true}",
        "spec.mtls.mode",
        "spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, found true",
        id="bool-for-enum",
    ),
    pytest.param(
        "DestinationRule",
        "trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}",
        "spec.host",
        "spec.host: required field is not set",
        id="dr-host-required",
    ),
    pytest.param(
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*'], tls: {httpsRedirect: "
        "'yes'}}]",
        "spec.servers[0].tls.httpsRedirect",
        'spec.servers[0].tls.httpsRedirect: must be true or false, found "yes"',
        id="string-for-bool",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "path", "message"), EXACT)
def test_error_names_the_field_and_what_is_expected(
    findings_of: FindingsOf, kind: str, spec: str, path: str, message: str
) -> None:
    finding = only_error(findings_of(kind, spec))
    assert finding.path == path
    assert finding.message == message
    assert finding.line_key == "{." + path + "}"


# ---- Istio's semantic checks, by kind ------------------------------------------------------------

SEMANTIC = [
    # VirtualService
    ("VirtualService", "hosts: [reviews]", "spec", "at least one http, tcp or tls route"),
    (
        "VirtualService",
        "hosts: [reviews]\nhttp: [{name: x}]",
        "spec.http[0]",
        "needs route (destinations), redirect",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{redirect: {uri: /x}, route: [{destination: {host: r}}]}]",
        "spec.http[0].route",
        "a route that redirects cannot also have route",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{directResponse: {status: 200}, route: [{destination: {host: r}}]}]",
        "spec.http[0].route",
        "a route with a directResponse cannot also have route",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{route: [{destination: {host: a}, weight: 0}, {destination: {host: b}, weight: "
        "0}]}]",
        "spec.http[0].route",
        "the destination weights add up to 0",
    ),
    (
        "VirtualService",
        "hosts: [r]\ngateways: [bad_gw]\nhttp: [{route: [{destination: {host: r}}]}]",
        "spec.gateways[0]",
        'must name a gateway as <namespace>/<name> or <name>: "bad_gw" is not a valid host name',
    ),
    (
        "VirtualService",
        "hosts: [r]\ngateways: [istio-system/Bad.Name]\nhttp: [{route: [{destination: {host: r}}]}]",
        "spec.gateways[0]",
        '"Bad.Name" is not a valid gateway name',
    ),
    (
        "VirtualService",
        "hosts: ['*']\nhttp: [{route: [{destination: {host: r}}]}]",
        "spec.hosts[0]",
        'host "*" is not allowed',
    ),
    (
        "VirtualService",
        "hosts: [a.example.com, '*.example.com']\nhttp: [{route: [{destination: {host: r}}]}]",
        "spec.hosts[1]",
        'duplicate host: "*.example.com" overlaps "a.example.com" (hosts[0])',
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{route: [{destination: {host: '*'}}]}]",
        "spec.http[0].route[0].destination.host",
        '"*" is not allowed as a destination host',
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{retries: {attempts: 3, retryOn: '5xx,bogus'}, route: [{destination: {host: "
        "r}}]}]",
        "spec.http[0].retries.retryOn",
        '"bogus" is not a retry policy',
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{retries: {retryOn: 5xx}, route: [{destination: {host: r}}]}]",
        "spec.http[0].retries",
        "retryOn set while attempts is 0 (retries disabled)",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{fault: {abort: {httpStatus: 700}}, route: [{destination: {host: r}}]}]",
        "spec.http[0].fault.abort.httpStatus",
        "must be an HTTP status from 200 to 599, found 700",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{fault: {delay: {fixedDelay: 1s, percentage: {value: 150}}}, route: "
        "[{destination: {host: r}}]}]",
        "spec.http[0].fault.delay.percentage.value",
        "must be 0 or a percentage from 0.0001 to 100, found 150",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{fault: {}, route: [{destination: {host: r}}]}]",
        "spec.http[0].fault",
        "a fault must have an abort, a delay, or both",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{redirect: {uri: /a, redirectCode: 200}}]",
        "spec.http[0].redirect.redirectCode",
        "must be a redirect status (3xx), found 200",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{match: [{headers: {'bad header': {exact: x}}}], route: [{destination: {host: "
        "r}}]}]",
        "spec.http[0].match[0].headers.bad header",
        '"bad header" is not a valid header name',
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{match: [{uri: {exact: /a, prefix: /b}}], route: [{destination: {host: r}}]}]",
        "spec.http[0].match[0].uri",
        "only one of exact, prefix or regex may be set, found exact and prefix",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{match: [{headers: {'@request.auth.claims.group': {exact: a}}}], "
        "route: [{destination: {host: r}}]}]",
        "spec.http[0].match[0].headers.@request.auth.claims.group",
        "routing on JWT claims works only for gateways",
    ),
    (
        "VirtualService",
        "hosts: [a.com]\ntls: [{match: [{sniHosts: [b.com]}], route: [{destination: {host: a.com}}]}]",
        "spec.tls[0].match[0].sniHosts[0]",
        'SNI host "b.com" is not one of (or covered by) the VirtualService hosts [a.com]',
    ),
    (
        "VirtualService",
        "hosts: [a.com]\ntls: [{route: [{destination: {host: a.com}}]}]",
        "spec.tls[0].match",
        "required field is not set",
    ),
    (
        "VirtualService",
        "gateways: [gw]\nhttp: [{route: [{destination: {host: r}}]}]",
        "spec.gateways",
        "a VirtualService without hosts is a delegate",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{rewrite: {uri: /a, uriRegexRewrite: {match: a, rewrite: b}}, route: "
        "[{destination: {host: r}}]}]",
        "spec.http[0].rewrite",
        "a rewrite may set uri or uriRegexRewrite, not both",
    ),
    # DestinationRule
    (
        "DestinationRule",
        "host: reviews\nsubsets: [{name: v1, labels: {version: v1}}, {name: v1, labels: {version: v2}}]",
        "spec.subsets[1].name",
        'duplicate subset name "v1" (subsets[0])',
    ),
    (
        "DestinationRule",
        "host: reviews\nsubsets: [{labels: {version: v1}}]",
        "spec.subsets[0].name",
        "required field is not set",
    ),
    (
        "DestinationRule",
        "host: reviews\nsubsets: [{name: v1, labels: {version: 'not valid!'}}]",
        "spec.subsets[0].labels.version",
        'label value "not valid!" is invalid',
    ),
    (
        "DestinationRule",
        "host: reviews\nsubsets: [{name: V_1}]",
        "spec.subsets[0].name",
        'subset "V_1" is not a valid name',
    ),
    ("DestinationRule", "host: 'bad host'", "spec.host", '"bad host" is not a valid host name'),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {loadBalancer: {simple: ROUND_ROBIN2}}",
        "spec.trafficPolicy.loadBalancer.simple",
        'found "ROUND_ROBIN2"; did you mean ROUND_ROBIN?',
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {}",
        "spec.trafficPolicy",
        "a traffic policy must set at least one of",
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {tls: {mode: MUTUAL}}",
        "spec.trafficPolicy.tls.clientCertificate",
        "MUTUAL TLS needs clientCertificate and privateKey",
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 100}}}}",
        "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
        "must be a prime number (such as 65537), found 100",
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {outlierDetection: {maxEjectionPercent: 150}}",
        "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
        "must be a percentage from 0 to 100, found 150",
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {portLevelSettings: [{tls: {mode: SIMPLE}}]}",
        "spec.trafficPolicy.portLevelSettings[0].port",
        "a port-level traffic policy needs the port it applies to",
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {connectionPool: {tcp: {connectTimeout: 0s}}}",
        "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        'must be a duration of at least 1ms, found "0s"',
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {connectionPool: {tcp: {connectTimeout: 1.5ms}}}",
        "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
        'must be a whole number of milliseconds, found "1.5ms"',
    ),
    (
        "DestinationRule",
        "host: r\nexportTo: [x_y]",
        "spec.exportTo[0]",
        'must be ".", "*" or a namespace name, found "x_y"',
    ),
    (
        "DestinationRule",
        "host: r\nexportTo: ['*', default]",
        "spec.exportTo",
        '"*" exports to every namespace',
    ),
    # Gateway
    ("Gateway", "selector: {istio: ingressgateway}", "spec.servers", "a Gateway needs at least one server"),
    ("Gateway", "servers: [{hosts: ['*']}]", "spec.servers[0].port", "required field is not set"),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http}, hosts: ['*']}]",
        "spec.servers[0].port.protocol",
        "required field is not set",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTPX}, hosts: ['*']}]",
        "spec.servers[0].port.protocol",
        '"HTTPX" is not a protocol Istio knows',
    ),
    (
        "Gateway",
        "servers: [{port: {number: 0, name: http, protocol: HTTP}, hosts: ['*']}]",
        "spec.servers[0].port.number",
        "must be a port number from 1 to 65535, found 0",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [foo]}]",
        "spec.servers[0].hosts[0]",
        '"foo" is a short name',
    ),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['Bad_NS/foo.com']}]",
        "spec.servers[0].hosts[0]",
        '"Bad_NS" is not a namespace',
    ),
    (
        "Gateway",
        "servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*'], tls: {mode: SIMPLE}}]",
        "spec.servers[0].tls.serverCertificate",
        "SIMPLE TLS needs credentialName, or serverCertificate and privateKey",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*'], "
        "tls: {mode: MUTUAL, serverCertificate: /c, privateKey: /k}}]",
        "spec.servers[0].tls.caCertificates",
        "MUTUAL TLS needs credentialName, or serverCertificate, privateKey and caCertificates",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*']}]",
        "spec.servers[0].tls",
        "a server with protocol HTTPS needs tls settings",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*'], tls: {mode: SIMPLE, "
        "credentialName: c}}]",
        "spec.servers[0].tls",
        "a plain-text HTTP server can only use tls.httpsRedirect",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTP, targetPort: 8080}, hosts: ['*']}]",
        "spec.servers[0].port.targetPort",
        "targetPort has no effect on a Gateway",
    ),
    # ServiceEntry
    ("ServiceEntry", "ports: [{number: 80, name: http}]", "spec.hosts", "required field is not set"),
    ("ServiceEntry", "hosts: []", "spec.hosts", "must have at least 1 item(s), found 0"),
    ("ServiceEntry", "hosts: ['*']", "spec.hosts[0]", 'a ServiceEntry host cannot be "*"'),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: NONE\nendpoints: [{address: 1.2.3.4}]",
        "spec.endpoints",
        "resolution NONE uses the original destination; remove endpoints",
    ),
    (
        "ServiceEntry",
        "hosts: ['*.a.com']\nresolution: DNS\nports: [{number: 80, name: http, protocol: HTTP}]",
        "spec.hosts[0]",
        "resolution DNS without endpoints resolves the hosts",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: DNS\naddresses: [10.0.0.0/8]\nports: [{number: 80, name: http, "
        "protocol: HTTP}]",
        "spec.addresses",
        "CIDR addresses work only with resolution NONE or STATIC, not DNS",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: STATIC\nendpoints: [{address: foo.com}]",
        "spec.endpoints[0].address",
        'resolution STATIC needs IP addresses, found "foo.com"',
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: STATIC\nports: [{number: 80, name: http}]\nendpoints: [{address: "
        "1.1.1.1, ports: {grpc: 90}}]",
        "spec.endpoints[0].ports.grpc",
        'endpoint port "grpc" is not one of the ServiceEntry\'s ports',
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nports: [{number: 80, name: http}, {number: 80, name: web}]",
        "spec.ports[1].number",
        "port 80 is already defined by ports[0]",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: DNS_ROUND_ROBIN\nendpoints: [{address: a.com}, {address: b.com}]",
        "spec.endpoints",
        "resolution DNS_ROUND_ROBIN allows at most one endpoint",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nworkloadSelector: {labels: {app: a}}\nendpoints: [{address: 1.1.1.1}]\nresolution: "
        "STATIC",
        "spec",
        "set workloadSelector or endpoints, not both",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com, b.com]\nresolution: DNS\nports: [{number: 3306, name: tcp, protocol: TCP}]",
        "spec.ports[0]",
        "with more than one host, every port must be HTTP or TLS",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\naddresses: [999.1.1.1]",
        "spec.addresses[0]",
        '"999.1.1.1" is not a valid IP address',
    ),
    # Sidecar
    ("Sidecar", "{}", "spec", "a Sidecar must configure at least one of egress, ingress"),
    ("Sidecar", "egress: [{hosts: [foo.com]}]", "spec.egress[0].hosts[0]", "must be <namespace>/<host name>"),
    (
        "Sidecar",
        "egress: [{port: {number: 80, protocol: HTTP, name: http}}]",
        "spec.egress[0].hosts",
        "required field is not set",
    ),
    (
        "Sidecar",
        "ingress: [{defaultEndpoint: '127.0.0.1:8080'}]",
        "spec.ingress[0].port",
        "required field is not set",
    ),
    (
        "Sidecar",
        "ingress: [{port: {number: 80, protocol: HTTP, name: http}, defaultEndpoint: '10.0.0.1:8080'}]",
        "spec.ingress[0].defaultEndpoint",
        "must be 127.0.0.1:<port>, 0.0.0.0:<port>",
    ),
    (
        "Sidecar",
        "outboundTrafficPolicy: {mode: REGISTRY_ONLY, egressProxy: {host: e.com, port: {number: 80}}}",
        "spec.outboundTrafficPolicy.egressProxy",
        "egressProxy needs mode ALLOW_ANY",
    ),
    (
        "Sidecar",
        "egress: [{hosts: ['./*']}, {port: {number: 80, protocol: HTTP, name: http}, hosts: ['./*']}]",
        "spec.egress[0]",
        "the egress listener without a port must be the last one",
    ),
    # PeerAuthentication
    (
        "PeerAuthentication",
        "mtls: {mode: STRICTER}",
        "spec.mtls.mode",
        'must be one of UNSET, DISABLE, PERMISSIVE, STRICT, found "STRICTER"; did you mean STRICT?',
    ),
    (
        "PeerAuthentication",
        "portLevelMtls: {8080: {mode: DISABLE}}",
        "spec.portLevelMtls",
        "portLevelMtls needs a selector",
    ),
    (
        "PeerAuthentication",
        "selector: {matchLabels: {app: a}}\nportLevelMtls: {70000: {mode: DISABLE}}",
        "spec.portLevelMtls.70000",
        "key must be a port number from 1 to 65535, found 70000",
    ),
    (
        "PeerAuthentication",
        "selector: {matchLabels: {app: a}}\nportLevelMtls: {}",
        "spec.portLevelMtls",
        "must have at least 1 entry(ies), found 0",
    ),
    (
        "PeerAuthentication",
        "selector: {matchLabels: {app: '*'}}",
        "spec.selector.matchLabels.app",
        'wildcard (*) is not allowed in a selector value, found "*"',
    ),
    # AuthorizationPolicy
    (
        "AuthorizationPolicy",
        "action: PERMIT",
        "spec.action",
        'must be one of ALLOW, DENY, AUDIT, CUSTOM, found "PERMIT"',
    ),
    (
        "AuthorizationPolicy",
        "action: CUSTOM\nrules: [{}]",
        "spec.provider.name",
        "a CUSTOM policy needs provider.name",
    ),
    (
        "AuthorizationPolicy",
        "action: CUSTOM\nprovider: {name: ext}",
        "spec",
        "a CUSTOM policy without rules never applies",
    ),
    ("AuthorizationPolicy", "action: DENY", "spec", "a DENY policy without rules never applies"),
    (
        "AuthorizationPolicy",
        "provider: {name: ext}\nrules: [{}]",
        "spec.provider",
        "provider is only used with action CUSTOM",
    ),
    ("AuthorizationPolicy", "rules: [{from: []}]", "spec.rules[0].from", "from must not be an empty list"),
    (
        "AuthorizationPolicy",
        "rules: [{from: [{source: {}}]}]",
        "spec.rules[0].from[0].source",
        "a source must set at least one of",
    ),
    (
        "AuthorizationPolicy",
        "rules: [{from: [{}]}]",
        "spec.rules[0].from[0].source",
        "required field is not set",
    ),
    (
        "AuthorizationPolicy",
        "rules: [{from: [{source: {ipBlocks: [10.0.0.300]}}]}]",
        "spec.rules[0].from[0].source.ipBlocks[0]",
        '"10.0.0.300" is not a valid IP address',
    ),
    (
        "AuthorizationPolicy",
        "rules: [{to: [{operation: {ports: [http]}}]}]",
        "spec.rules[0].to[0].operation.ports[0]",
        '"http" is not a port',
    ),
    (
        "AuthorizationPolicy",
        "rules: [{when: [{key: foo.bar, values: [x]}]}]",
        "spec.rules[0].when[0].values",
        'unknown attribute "foo.bar"',
    ),
    (
        "AuthorizationPolicy",
        "rules: [{when: [{key: source.namespace}]}]",
        "spec.rules[0].when[0]",
        "set values or notValues for the condition on source.namespace",
    ),
    (
        "AuthorizationPolicy",
        "selector: {matchLabels: {app: a}}\ntargetRef: {kind: Service, name: s}",
        "spec",
        "set only one of selector, targetRef or targetRefs, found selector and targetRef",
    ),
    (
        "AuthorizationPolicy",
        "targetRefs: [{kind: Deployment, name: d}]",
        "spec.targetRefs[0]",
        "targetRef must point at one of core/Service",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "path", "text"), SEMANTIC)
def test_istios_checks(findings_of: FindingsOf, kind: str, spec: str, path: str, text: str) -> None:
    found = errors(findings_of(kind, spec))
    matching = [f for f in found if f.path == path and text in f.message]
    assert matching, f"no error at {path} containing {text!r}; got: {[f.message for f in found]}"
    assert matching[0].message.startswith(path + ": ")


WARNINGS = [
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{mirrorPercent: 50, mirror: {host: m}, route: [{destination: {host: r}}]}]",
        "spec.http[0].mirrorPercent",
        "mirrorPercent is deprecated; use mirrorPercentage",
    ),
    (
        "VirtualService",
        "hosts: [r]\ngateways: [gw.istio-system]\nhttp: [{route: [{destination: {host: r}}]}]",
        "spec.gateways[0]",
        'write "istio-system/gw" (<namespace>/<name>) instead',
    ),
    (
        "Gateway",
        "servers: [{port: {number: 443, name: https, protocol: HTTPS}, hosts: ['*'], "
        "tls: {mode: SIMPLE, credentialName: c, minProtocolVersion: TLSV1_1}}]",
        "spec.servers[0].tls.minProtocolVersion",
        "TLS versions below 1.2 need cipherSuites",
    ),
    (
        "Sidecar",
        "workloadSelector: {}\negress: [{hosts: ['./*']}]",
        "spec.workloadSelector",
        "the selector has no labels",
    ),
    (
        "AuthorizationPolicy",
        "action: DENY\nrules: [{to: [{operation: {paths: [/admin]}}]}]",
        "spec.rules[0]",
        "this DENY rule uses only HTTP attributes",
    ),
    (
        "DestinationRule",
        "host: r\ntrafficPolicy: {outlierDetection: {consecutiveErrors: 5}}",
        "spec.trafficPolicy.outlierDetection.consecutiveErrors",
        "consecutiveErrors is deprecated",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: NONE\nworkloadSelector: {labels: {app: a}}",
        "spec.workloadSelector",
        "no effect",
    ),
]


@pytest.mark.parametrize(("kind", "spec", "path", "text"), WARNINGS)
def test_istios_warnings(findings_of: FindingsOf, kind: str, spec: str, path: str, text: str) -> None:
    found = findings_of(kind, spec)
    assert not errors(found), [f.message for f in found]
    assert [f.path for f in warnings(found) if text in f.message] == [path], [f.message for f in found]


# ---- what Istio accepts ---------------------------------------------------------------------------

ACCEPTED = [
    ("VirtualService", "hosts: [r]\nhttp: [{route: [{destination: {host: r}, weight: 150}]}]"),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{timeout: 1h30m, retries: {attempts: 3, perTryTimeout: 0.5s}, route: "
        "[{destination: {host: r}}]}]",
    ),
    (
        "VirtualService",
        "hosts: [r]\nhttp: [{match: [{uri: {regex: '(?i)^/api/v[0-9]+'}}], route: [{destination: {host: "
        "r}}]}]",
    ),
    (
        "VirtualService",
        "hosts: ['*']\ngateways: [istio-system/gw]\nhttp: [{route: [{destination: {host: r}}]}]",
    ),
    ("VirtualService", "hosts: [10.0.0.1]\nhttp: [{route: [{destination: {host: r}}]}]"),
    ("VirtualService", "http: [{route: [{destination: {host: r}}]}]"),  # a delegate: no hosts
    ("VirtualService", "hosts: [r]\nhttp: [{route: [{destination: {host: r}}], fault: null, timeout: ~}]"),
    (
        "DestinationRule",
        "host: '*.example.com'\ntrafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: c, ttl: "
        "0s}}}}",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*'], tls: {httpsRedirect: "
        "true}}]",
    ),
    (
        "Gateway",
        "servers: [{port: {number: 443, name: https, protocol: https}, hosts: ['./a.example.com'], tls: "
        "{mode: SIMPLE, credentialName: c}}]",
    ),
    (
        "ServiceEntry",
        "hosts: [a.com]\nresolution: STATIC\nports: [{number: 80, name: http}]\nendpoints: [{address: "
        "1.1.1.1, ports: {http: 8080}}]",
    ),
    ("Sidecar", "egress: [{hosts: ['./*', 'istio-system/*']}]"),
    (
        "PeerAuthentication",
        "selector: {matchLabels: {app: a}}\nportLevelMtls: {'8080': {mode: DISABLE}}\nmtls: {mode: STRICT}",
    ),
    ("AuthorizationPolicy", "{}"),
    (
        "AuthorizationPolicy",
        "action: DENY\nrules: [{to: [{operation: {ports: ['8080'], paths: ['/admin/{**}']}}]}]",
    ),
]


@pytest.mark.parametrize(("kind", "spec"), ACCEPTED)
def test_config_istio_accepts_has_no_findings(findings_of: FindingsOf, kind: str, spec: str) -> None:
    assert findings_of(kind, spec) == []


def test_dry_run_annotation_is_only_for_authorization_policies(make: ResourceBuilder) -> None:
    annotated = {"istio.io/dry-run": "true"}
    vs = validate(make("VirtualService", VALID_VS, annotations=annotated))
    assert [f.path for f in vs] == ["metadata.annotations.istio.io/dry-run"]
    policy = validate(make("AuthorizationPolicy", "action: DENY\nrules: [{}]", annotations=annotated))
    assert errors(policy) == []
    custom = validate(
        make("AuthorizationPolicy", "action: CUSTOM\nprovider: {name: p}\nrules: [{}]", annotations=annotated)
    )
    assert [f.path for f in custom] == ["metadata.annotations.istio.io/dry-run"]


def test_gateway_name_must_be_a_dns_label(make: ResourceBuilder) -> None:
    spec = "servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]"
    found = validate(make("Gateway", spec, name="my.gateway"))
    assert [f.path for f in found] == ["metadata.name"]
    assert '"my.gateway" is not a valid Gateway name' in found[0].message


def test_missing_spec_is_checked_as_empty(make: ResourceBuilder) -> None:
    resource = parse_resource(
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g"}}
    )
    assert [f.path for f in validate(resource)] == ["spec.servers"]
    assert make("Gateway", "servers: []").spec == {"servers": []}


def test_unknown_field_without_a_close_name_lists_the_fields(findings_of: FindingsOf) -> None:
    finding = only_error(findings_of("PeerAuthentication", "banana: 1"))
    assert finding.message == "spec.banana: unknown field; the fields here are: mtls, portLevelMtls, selector"


def test_snake_case_field_suggests_the_camel_case_name(findings_of: FindingsOf) -> None:
    spec = (
        "hosts: [r]\nhttp: [{retries: {attempts: 2, per_try_timeout: 1s}, route: [{destination: {host: r}}]}]"
    )
    finding = only_error(findings_of("VirtualService", spec))
    assert (
        finding.message == "spec.http[0].retries.per_try_timeout: unknown field; did you mean perTryTimeout?"
    )
