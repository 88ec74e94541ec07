"""destinationrule.* analyzers through `meshctl analyze` on small files: exact lines, file:line included."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MeshctlRunner
from tests.unit.analysis.analyzers.support import Config

CA_CERTIFICATES = "destinationrule.CaCertificateAnalyzer"
SUBSET_PODS = "destinationrule.SubsetSelectPodAnalyzer"


def test_tls_without_ca_certificates(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: db  # db
spec:
  host: db.prod.svc.cluster.local
  trafficPolicy:
    tls:
      mode: SIMPLE
    portLevelSettings:
    - port: {number: 5432}
      tls: {mode: MUTUAL, clientCertificate: /etc/c.pem, privateKey: /etc/k.pem}
    - port: {number: 5433}
      tls: {mode: MUTUAL, caCertificates: /etc/ca.pem}
    - port: {number: 5434}
      tls: {mode: ISTIO_MUTUAL}
  subsets:
  - name: v1
    trafficPolicy: {tls: {mode: SIMPLE}}  # subsets are not checked
---
# a DestinationRule for a workload, with a credential carrying the CA
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egress-credential
spec:
  host: api.example.com
  workloadSelector:
    matchLabels: {app: client}
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: api-ca}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: credential-for-all  # for-all
spec:
  host: api.example.com
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: api-ca}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: verified
spec:
  host: api.example.com
  trafficPolicy:
    tls: {mode: MUTUAL, caCertificates: /etc/ca.pem}
""",
    )
    result = config.analyze(meshctl, CA_CERTIFICATES)
    # The missing caCertificates field has no line: the document's first line is reported.
    unverified = "but no caCertificates are set to validate server identity for host:"
    assert result.lines == [
        f"Warning [IST0128] (DestinationRule default/credential-for-all {config.start_of('# for-all')}) "
        "DestinationRule default/credential-for-all in namespace default has TLS mode set to SIMPLE "
        f"{unverified} api.example.com",
        f"Warning [IST0128] (DestinationRule default/db {config.path}:1) DestinationRule default/db in "
        f"namespace default has TLS mode set to SIMPLE {unverified} db.prod.svc.cluster.local",
        f"Warning [IST0129] (DestinationRule default/db {config.path}:1) DestinationRule default/db in "
        f"namespace default has TLS mode set to MUTUAL {unverified} db.prod.svc.cluster.local "
        "at port number:5432",
    ]
    assert result.code == 0


def test_an_empty_ca_certificates_field_has_its_own_line(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: prod}
spec:
  host: db
  trafficPolicy:
    tls:
      mode: MUTUAL
      caCertificates: ""
""",
    )
    result = config.analyze(meshctl, CA_CERTIFICATES, "-n", "prod")
    assert result.lines == [
        f"Warning [IST0128] (DestinationRule prod/db {config.at('caCertificates')}) DestinationRule prod/db "
        "in namespace prod has TLS mode set to MUTUAL but no caCertificates are set to validate server "
        "identity for host: db"
    ]


WORKLOADS = """\
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080}
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1
  namespace: staging
  labels: {app: reviews, version: v1}
spec:
  nodeName: node-a
  containers: [{name: reviews, image: reviews}]
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/region: eu, topology.kubernetes.io/zone: ""}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: default}
spec:
  hosts: [vm.example.com]
  workloadSelector:
    labels: {app: vm}
---
apiVersion: v1
kind: Pod
metadata:
  name: not-a-vm
  namespace: default
  labels: {version: v1}
spec:
  containers: [{name: c, image: c}]
"""


def test_subsets_must_select_pods(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        WORKLOADS
        + """\
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}  # a pod in any namespace counts
  - {name: eu, labels: {version: v1, topology.kubernetes.io/region: eu}}  # the node's region
  - {name: node, labels: {kubernetes.io/hostname: node-a}}
  - {name: v2, labels: {version: v2}}
  - {name: no-zone, labels: {topology.kubernetes.io/zone: ""}}  # an empty node label is not copied
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: vms, namespace: default}
spec:
  host: vm.example.com
  subsets:
  - {name: v1, labels: {version: v1}}  # with the ServiceEntry's workloadSelector: app=vm
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: nothing, namespace: default}
spec:
  host: nothing.default.svc.cluster.local
  subsets:
  - {name: v1, labels: {version: v1}}
""",
    )
    result = config.analyze(meshctl, SUBSET_PODS)
    reviews = config.start_of("- {name: v2,")
    vms = config.start_of("# with the ServiceEntry's workloadSelector")
    nothing = config.start_of("host: nothing.default")
    tail = "defined in the DestinationRule does not select any pods. Which may lead to 503 UH "
    tail += "(NoHealthyUpstream)."
    assert result.lines == [
        f"Error [IST0173] (DestinationRule default/reviews {reviews}) The Subset no-zone {tail}",
        f"Error [IST0173] (DestinationRule default/reviews {reviews}) The Subset v2 {tail}",
        f"Error [IST0173] (DestinationRule default/vms {vms}) The Subset v1 {tail}",
        f"Warning [IST0174] (DestinationRule default/nothing {nothing}) The host "
        "nothing.default.svc.cluster.local defined in the DestinationRule does not match any services in the "
        "mesh.",
    ]
    assert result.code == 79


def test_destination_rule_hosts_follow_export_to(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    config = Config(
        tmp_path,
        """\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: integrations}
spec:
  hosts: [partner.example.com]
  exportTo: [".", billing]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: partner, namespace: billing}
spec:
  host: partner.example.com
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: partner, namespace: web}
spec:
  host: partner.example.com
""",
    )
    result = config.analyze(meshctl, SUBSET_PODS, "-A")
    assert result.lines == [
        f"Warning [IST0174] (DestinationRule web/partner {config.start_of('namespace: web')}) "
        "The host partner.example.com "
        "defined in the DestinationRule does not match any services in the mesh."
    ]
