"""virtualservice.* analyzers through `meshctl analyze` on small files: exact lines, file:line included."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import MeshctlRunner
from tests.unit.analysis.analyzers.support import Config

DESTINATION_HOSTS = "virtualservice.DestinationHostAnalyzer"
DESTINATION_RULES = "virtualservice.DestinationRuleAnalyzer"
GATEWAYS = "virtualservice.GatewayAnalyzer"
MESH_HOSTS = "virtualservice.ConflictingMeshGatewayHostsAnalyzer"


SERVICES = """\
apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
spec:
  ports:
  - {name: http, port: 9080}
---
apiVersion: v1
kind: Service
metadata:
  name: ratings
  namespace: default
spec:
  ports:
  - {name: http, port: 80}
  - {name: https, port: 443}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external
  namespace: default
spec:
  hosts: [api.example.com, "*.eu.example.com"]
  ports:
  - {number: 443, name: https, protocol: HTTPS}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: private
  namespace: other
spec:
  exportTo: ["."]
  hosts: [private.example.com]
"""


def test_destination_hosts_ports_and_mirrors(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        SERVICES
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: good
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
    - destination: {host: reviews.default.svc.cluster.local, port: {number: 9080}}
    - destination: {host: api.example.com}
    - destination: {host: fr.eu.example.com}
    - destination: {host: ratings, port: {number: 443}}
    mirror: {host: reviews}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bad
spec:
  hosts: [reviews]
  tcp:
  - route:
    - destination: {host: reviews-bogus}  # tcp
  http:
  - route:
    - {}
    - destination: {host: ratings}  # two ports
    - destination: {host: reviews, port: {number: 999}}
    - destination: {host: private.example.com}
    mirror: {host: mirror-bogus}
    mirrors:
    - destination: {host: mirrors-bogus}
""",
    )
    result = config.analyze(meshctl, DESTINATION_HOSTS)
    assert result.lines == [
        # A route without a destination has no host line: the document's first line stands in.
        f"Error [IST0101] (VirtualService default/bad {config.path}:{config.line('name: bad') - 3}) "
        'Referenced host not found: ""',
        f"Error [IST0101] (VirtualService default/bad {config.at('host: reviews-bogus')}) "
        'Referenced host not found: "reviews-bogus"',
        f"Error [IST0101] (VirtualService default/bad {config.at('number: 999')}) "
        'Referenced host:port not found: "reviews:999"',
        f"Error [IST0101] (VirtualService default/bad {config.at('host: private.example.com')}) "
        'Referenced host not found: "private.example.com"',
        f"Error [IST0101] (VirtualService default/bad {config.at('host: mirror-bogus')}) "
        'Referenced mirror host not found: "mirror-bogus"',
        f"Error [IST0101] (VirtualService default/bad {config.at('host: mirrors-bogus')}) "
        'Referenced mirror host not found: "mirrors-bogus"',
        f"Error [IST0112] (VirtualService default/bad {config.at('# two ports')}) "
        'This VirtualService routes to a service "ratings" that exposes multiple ports [80 443]. '
        "Specifying a port in the destination is required to disambiguate.",
    ]
    assert result.code == 79


def test_a_fqdn_destination_in_another_namespace_is_found(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    """istio/istio#22698: `reviews.default.svc.cluster.local` from istio-system is the default Service."""
    config = Config(
        tmp_path,
        SERVICES
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: cross
  namespace: istio-system
spec:
  hosts: [reviews.default.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews.default.svc.cluster.local}
    - destination: {host: reviews}  # short: istio-system/reviews
""",
    )
    result = config.analyze(meshctl, DESTINATION_HOSTS, "-A")
    assert result.lines == [
        f"Error [IST0101] (VirtualService istio-system/cross {config.at('# short')}) "
        'Referenced host not found: "reviews"'
    ]


def test_any_cluster_domain_names_a_service(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    """istio/istio#48326: a cluster whose DNS domain is not cluster.local."""
    config = Config(
        tmp_path,
        SERVICES
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: corp
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews.default.svc.corp.example}
    - destination: {host: ratings.default.svc.corp.example, port: {number: 8443}}
""",
    )
    result = config.analyze(meshctl, DESTINATION_HOSTS)
    # Found, and its ports checked: only the wrong port is reported.
    assert result.lines == [
        f"Error [IST0101] (VirtualService default/corp {config.at('number: 8443')}) "
        'Referenced host:port not found: "ratings.default.svc.corp.example:8443"'
    ]


def test_the_service_export_to_annotation_limits_who_sees_it(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    """istio/istio#39629: a Service exported to some namespaces is found there, and only there."""
    config = Config(
        tmp_path,
        """\
apiVersion: v1
kind: Service
metadata:
  name: hello
  namespace: hello
  annotations:
    networking.istio.io/exportTo: "team-a, ."
spec:
  ports:
  - {name: http, port: 9080}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: seen, namespace: team-a}
spec:
  hosts: [hello.hello.svc.cluster.local]
  http:
  - route:
    - destination: {host: hello.hello.svc.cluster.local}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: own, namespace: hello}
spec:
  hosts: [hello]
  http:
  - route:
    - destination: {host: hello}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: unseen, namespace: team-b}
spec:
  hosts: [hello.hello.svc.cluster.local]
  http:
  - route:
    - destination: {host: hello.hello.svc.cluster.local}  # team-b
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: exported-elsewhere, namespace: hello}
spec:
  hosts: [hello]
  exportTo: [team-b]
  http:
  - route:
    - destination: {host: hello}  # exported to team-b
""",
    )
    result = config.analyze(meshctl, DESTINATION_HOSTS, "-A")
    assert result.lines == [
        f"Error [IST0101] (VirtualService hello/exported-elsewhere {config.at('# exported to team-b')}) "
        'Referenced host not found: "hello"',
        f"Error [IST0101] (VirtualService team-b/unseen {config.at('# team-b')}) "
        'Referenced host not found: "hello.hello.svc.cluster.local"',
    ]


def test_gateway_routes_ignore_mesh_subsets(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        SERVICES
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-split}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front}
spec:
  hosts: [www.example.com]
  gateways: [istio-system/ingress]
  http:
  - route:
    - destination: {host: reviews.default.svc.cluster.local}  # no subset
    - destination: {host: reviews, subset: v2}
""",
    )
    result = config.analyze(meshctl, DESTINATION_HOSTS)
    assert result.lines == [
        f"Warning [IST0140] (VirtualService default/front {config.at('# no subset')}) "
        "Subset in virtual service default/reviews-split has no effect on ingress gateway "
        "default/front requests"
    ]
    assert result.code == 0


def test_subsets_must_be_defined_by_a_destination_rule(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: prod}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: prod}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
    - destination: {host: reviews, subset: v9}
    mirror: {host: reviews.prod.svc.cluster.local, subset: v8}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: caller, namespace: web}
spec:
  hosts: [reviews.prod.svc.cluster.local]
  http:
  - route:
    - destination: {host: reviews.prod.svc.cluster.local, subset: v1}
    - destination: {host: reviews, subset: v1}  # web/reviews
""",
    )
    result = config.analyze(meshctl, DESTINATION_RULES, "-A")
    assert result.lines == [
        f"Error [IST0101] (VirtualService web/caller {config.at('# web/reviews')}) "
        'Referenced host+subset in destinationrule not found: "reviews+v1"',
        f"Error [IST0101] (VirtualService prod/reviews {config.at('subset: v9')}) "
        'Referenced host+subset in destinationrule not found: "reviews+v9"',
        f"Error [IST0101] (VirtualService prod/reviews {config.at('subset: v8')}) "
        'Referenced mirror+subset in destinationrule not found: "reviews.prod.svc.cluster.local+v8"',
    ]


GATEWAYS_YAML = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com", "./own.internal", "team/team.internal"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: everything, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 81, name: http, protocol: HTTP}
    hosts: ["*/*"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: k8s, namespace: default}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: k8s.example.org}
"""


def test_gateway_references_and_hosts(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        GATEWAYS_YAML
        + """\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fine, namespace: default}
spec:
  hosts: [www.example.com, k8s.example.org]
  gateways: [mesh, istio-system/public, istio-system/everything, k8s]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: lost, namespace: default}
spec:
  hosts: [own.internal]
  gateways:
  - istio-system/public  # ./ hosts are the gateway namespace's
  - nowhere
  - k8s  # listener hostname
  - istio-system/web~istio-autogenerated-k8s-gateway~http
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: team, namespace: team}
spec:
  hosts: [team.internal]
  gateways: [istio-system/public]
""",
    )
    result = config.analyze(meshctl, GATEWAYS, "-A")
    assert result.lines == [
        f"Error [IST0101] (VirtualService default/lost {config.at('- nowhere')}) "
        'Referenced gateway not found: "nowhere"',
        f"Warning [IST0132] (VirtualService default/lost {config.at('# ./ hosts')}) "
        "one or more host [own.internal] defined in VirtualService default/lost not found in Gateway "
        "istio-system/public.",
        # A missing gateway has no hosts either, so istioctl reports both.
        f"Warning [IST0132] (VirtualService default/lost {config.at('- nowhere')}) "
        "one or more host [own.internal] defined in VirtualService default/lost not found in Gateway "
        "default/nowhere.",
        f"Warning [IST0132] (VirtualService default/lost {config.at('- k8s  # listener')}) "
        "one or more host [own.internal] defined in VirtualService default/lost not found in Gateway "
        "default/k8s.",
        f"Warning [IST0165] (VirtualService default/lost {config.at('autogenerated')}) "
        "Gateway reference in VirtualService default/lost is to an implementation-generated internal "
        "Gateway: istio-system/web~istio-autogenerated-k8s-gateway~http.",
    ]


def test_mesh_virtual_services_defining_one_host(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-canary, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  gateways: [mesh, istio-system/public]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-edge, namespace: shop}
spec:
  hosts: [reviews]
  gateways: [istio-system/public]  # not bound to the mesh
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: team-a}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: team-b}
spec:
  hosts: [api.example.com]
  exportTo: ["."]
""",
    )
    result = config.analyze(meshctl, MESH_HOSTS, "-A")
    text = (
        "The VirtualServices shop/reviews,shop/reviews-canary associated with mesh gateway define the same "
        "host */reviews.shop.svc.cluster.local which can lead to undefined behavior. This can be fixed by "
        "merging the conflicting VirtualServices into a single resource."
    )
    assert result.lines == [
        f"Error [IST0109] (VirtualService shop/reviews {config.at('name: reviews,')}) {text}",
        f"Error [IST0109] (VirtualService shop/reviews-canary {config.at('name: reviews-canary')}) {text}",
    ]


def test_a_scoped_host_conflicts_with_one_exported_everywhere(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: local, namespace: a}
spec:
  hosts: [web.example.com]
  exportTo: [a]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: global, namespace: b}
spec:
  hosts: ["*.example.com"]
""",
    )
    result = config.analyze(meshctl, MESH_HOSTS, "-A", "-o", "json")
    assert [message["origin"] for message in json.loads(result.stdout)] == [
        "VirtualService b/global",
        "VirtualService a/local",
    ]
    message = json.loads(result.stdout)[0]["message"]
    assert message.startswith(
        "The VirtualServices a/local,b/global associated with mesh gateway define the same host "
        "a/web.example.com which"
    )


def test_a_virtual_service_does_not_conflict_with_itself(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    """istio/istio#42561: one VirtualService naming its host short and fully qualified."""
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: atlas, namespace: services}
spec:
  hosts: [atlas, atlas.services.svc.cluster.local]
  gateways: [mesh]
""",
    )
    result = config.analyze(meshctl, MESH_HOSTS, "-A")
    assert (result.code, result.stdout) == (0, "\n")
