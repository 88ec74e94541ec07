"""`meshctl analyze` on Istio's Bookinfo sample, as a course runs `istioctl analyze` on it.

Run as a real process from the Istio reference folder (`$MESHLAB_SHARED/reference/istio`, else
`<repo>/../shared/reference/istio`), with the relative paths a user types, since users grep these lines.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import MeshctlRunner

GATEWAY_FILE = "bookinfo/networking/bookinfo-gateway.yaml"
PLATFORM_FILE = "bookinfo/platform/kube/bookinfo.yaml"
MISSING_PRODUCTPAGE = (
    "Error [IST0101] (VirtualService default/bookinfo bookinfo/networking/bookinfo-gateway.yaml:41) "
    'Referenced host not found: "productpage"'
)
GATEWAY_PORT_WARNING = (
    "Warning [IST0162] (Gateway default/bookinfo-gateway bookinfo/networking/bookinfo-gateway.yaml:9) "
    "The gateway is listening on a target port (port 8080) that is not defined in the Service associated "
    "with its workload instances (Pod selector istio=ingressgateway). If you need to access the gateway port "
    "through the gateway Service, it will not be available."
)


def test_the_gateway_alone_misses_the_productpage_service(
    meshctl_process: MeshctlRunner, istio_reference: Path
) -> None:
    result = meshctl_process("analyze", "--use-kube=false", GATEWAY_FILE, cwd=istio_reference)
    assert result.stdout.splitlines() == [MISSING_PRODUCTPAGE, GATEWAY_PORT_WARNING]
    assert result.code == 79
    assert result.stderr.startswith("Error: Analyzers found issues when analyzing namespace: default.\n")


def test_with_the_platform_manifest_only_the_port_warning_remains(
    meshctl_process: MeshctlRunner, istio_reference: Path
) -> None:
    result = meshctl_process("analyze", "--use-kube=false", GATEWAY_FILE, PLATFORM_FILE, cwd=istio_reference)
    assert result.stdout.splitlines() == [GATEWAY_PORT_WARNING]
    assert (result.code, result.stderr) == (0, "")
