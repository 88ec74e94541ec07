from __future__ import annotations

from mesh_runtime.analysis.level import ERROR, INFO, WARNING
from mesh_runtime.analysis.message_catalogue import CATALOGUE, by_name
from mesh_runtime.analysis.messages import go_format
from mesh_runtime.resources import load_text

GATEWAY = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: prod
spec:
  selector:
    istio: ingressgateway
"""


def test_go_verbs() -> None:
    assert go_format("Referenced %s not found: %q", ["host", 'a"b']) == 'Referenced host not found: "a\\"b"'
    assert go_format("hosts %v and %s", [["a", "b"], ("c",)]) == "hosts [a b] and [c]"
    assert go_format("port %d of %d%%", [8080, 9]) == "port 8080 of 9%"
    assert go_format("%s and %s", ["one"]) == "one and %!s(MISSING)"


def test_the_catalogue_has_istios_codes_levels_and_templates(shared_catalogue: list[dict[str, str]]) -> None:
    assert len(CATALOGUE) == len(shared_catalogue) == 68
    for entry in shared_catalogue:
        ours = CATALOGUE[entry["code"]]
        assert (ours.name, ours.level.name, ours.template) == (
            entry["name"],
            entry["level"],
            entry["template"],
        )


def test_a_message_renders_as_istioctl_prints_it() -> None:
    (gateway,) = load_text(GATEWAY, "gw.yaml").resources
    message = by_name("ReferencedResourceNotFound")(
        gateway, "selector", "istio=ingressgateway", field_path="{.spec.selector.istio}"
    )
    assert message.render() == (
        'Error [IST0101] (Gateway prod/gw gw.yaml:8) Referenced selector not found: "istio=ingressgateway"'
    )
    assert message.render(color=True).startswith("\033[1;31mError\033[0m [IST0101]")
    assert message.to_dict() == {
        "code": "IST0101",
        "documentationUrl": "https://istio.io/v1.32/docs/reference/config/analysis/ist0101/?ref=istioctl-analyze",
        "level": "Error",
        "message": 'Referenced selector not found: "istio=ingressgateway"',
        "origin": "Gateway prod/gw",
        "reference": "gw.yaml:8",
    }


def test_a_message_without_a_resource_has_no_origin() -> None:
    message = by_name("InternalError")(None, "boom")
    assert message.render() == "Error [IST0001] Internal error: boom"
    assert "origin" not in message.to_dict()


def test_levels_order_error_first() -> None:
    assert ERROR.at_least(WARNING) and WARNING.at_least(WARNING) and not INFO.at_least(WARNING)
    assert sorted([INFO, ERROR, WARNING]) == [ERROR, WARNING, INFO]
