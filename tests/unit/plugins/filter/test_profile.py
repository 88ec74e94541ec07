"""The profile table and its errors (tests/integration/playbooks/test_profiles.py runs it in the roles)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleError

from ansible_collections.meshlab.mesh.plugins.filter.profile import KNOWN_ADDONS, profile


def test_each_profile_has_istios_components() -> None:
    components = {
        name: (settings["control_plane"], settings["gateways"], settings["addons"])
        for name in ("demo", "default", "minimal", "empty")
        for settings in [profile(name)]
    }
    assert components == {
        "demo": (True, ["ingress", "egress"], list(KNOWN_ADDONS)),
        "default": (True, ["ingress"], []),
        "minimal": (True, [], []),
        "empty": (False, [], []),
    }
    assert (profile("demo")["trace_sampling"], profile("demo")["access_log"]) == (100.0, True)
    assert (profile("default")["trace_sampling"], profile("default")["access_log"]) == (1.0, False)


def test_addons_replace_the_profiles_in_a_fixed_order() -> None:
    assert profile("minimal", addons=["prometheus"])["addons"] == ["prometheus"]
    assert profile("demo", addons=[])["addons"] == []
    # The table itself is not changed by a caller.
    profile("demo")["gateways"].clear()
    assert profile("demo")["gateways"] == ["ingress", "egress"]


@pytest.mark.parametrize(
    ("name", "addons", "message"),
    [
        (
            "demoo",
            None,
            "meshlab_profile: 'demoo' is not a profile: choose one of demo, default, minimal, empty",
        ),
        (None, None, "meshlab_profile: None is not a profile"),
        ("demo", ["grafana"], "meshlab_addons: 'grafana' is no addon: choose from prometheus"),
        (
            "demo",
            ["kiali", "jaeger"],
            "meshlab_addons: 'kiali', 'jaeger' are no addon: choose from prometheus",
        ),
        ("demo", "prometheus", "meshlab_addons: 'prometheus' is not a list of addon names"),
        (
            "empty",
            ["prometheus"],
            "meshlab_addons: prometheus need the control plane, which meshlab_profile 'empty'",
        ),
    ],
)
def test_bad_input_names_the_variable_and_the_choices(name: object, addons: object, message: str) -> None:
    with pytest.raises(AnsibleError, match="^" + message.replace("(", r"\(").replace("[", r"\[")):
        profile(name, addons)  # type: ignore[arg-type]
