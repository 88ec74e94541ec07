# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install profiles (Istio's demo, default, minimal and empty): one table, read by every role."""

from __future__ import annotations

DOCUMENTATION = r"""
name: profile
author: meshlab maintainers
version_added: 0.1.0
short_description: What an install profile installs, as Istio's profiles mean it
description:
  - Turns a profile name (C(meshlab_profile)) into the settings the roles follow. Every role reads this
    filter, so a profile means the same to all of them.
  - C(demo) (meshlab's default, as Istio's getting started and its tasks use it) runs the control plane, the
    ingress and egress gateways and every addon, logs every request and traces every one.
  - C(default) runs the control plane and the ingress gateway, no addon, no access log, and traces 1% of
    requests, as Istio's C(default) profile and its C(meshConfig) defaults.
  - C(minimal) runs the control plane alone.
  - C(empty) runs nothing; the runtime is installed, so C(meshctl) works.
  - O(addons) replaces the profile's addons, as C(meshlab_addons) does.
  - An unknown profile or addon is an error that lists the known ones, as are addons with C(empty) (they
    need the control plane).
positional: _input, addons
options:
  _input:
    description: The profile's name.
    type: string
    required: true
  addons:
    description:
      - The addons to install instead of the profile's; V(none) keeps the profile's.
      - Each one of the names in RV(_value.known_addons).
    type: list
    elements: string
"""

EXAMPLES = r"""
- name: What the default profile installs
  ansible.builtin.debug:
    msg: "{{ 'default' | meshlab.mesh.profile }}"

- name: The demo profile without its addons
  ansible.builtin.set_fact:
    settings: "{{ 'demo' | meshlab.mesh.profile(addons=[]) }}"
"""

RETURN = r"""
_value:
  description: The profile's settings.
  type: dict
  contains:
    name:
      description: The profile.
      type: str
      sample: demo
    control_plane:
      description: Whether meshd runs.
      type: bool
    gateways:
      description: The modes of the gateways that run (C(ingress), C(egress)), in Istio's order.
      type: list
      elements: str
      sample: [ingress, egress]
    addons:
      description: The addons installed.
      type: list
      elements: str
      sample: [prometheus]
    trace_sampling:
      description: The percentage of requests traced (Istio's C(pilot.traceSampling)).
      type: float
      sample: 100.0
    access_log:
      description: Whether every proxy logs each request (Istio's C(meshConfig.accessLogFile)).
      type: bool
    known_addons:
      description: Every addon there is.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError  # noqa: E402 (after the documentation, as Ansible expects)

#: Every addon the addons role can install.
KNOWN_ADDONS = ("prometheus",)

PROFILES = {
    "demo": {
        "control_plane": True,
        "gateways": ["ingress", "egress"],
        "addons": list(KNOWN_ADDONS),
        "trace_sampling": 100.0,
        "access_log": True,
    },
    "default": {
        "control_plane": True,
        "gateways": ["ingress"],
        "addons": [],
        "trace_sampling": 1.0,
        "access_log": False,
    },
    "minimal": {
        "control_plane": True,
        "gateways": [],
        "addons": [],
        "trace_sampling": 1.0,
        "access_log": False,
    },
    "empty": {
        "control_plane": False,
        "gateways": [],
        "addons": [],
        "trace_sampling": 1.0,
        "access_log": False,
    },
}


def _known(names):
    return ", ".join(names)


def _addons(addons):
    if not isinstance(addons, (list, tuple)) or not all(isinstance(name, str) for name in addons):
        raise AnsibleFilterError(
            f"meshlab_addons: {addons!r} is not a list of addon names: give a list such as [prometheus]"
            f" (known: {_known(KNOWN_ADDONS)})"
        )
    unknown = [name for name in addons if name not in KNOWN_ADDONS]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        verb = "is" if len(unknown) == 1 else "are"
        raise AnsibleFilterError(
            f"meshlab_addons: {names} {verb} no addon: choose from {_known(KNOWN_ADDONS)}"
        )
    return [name for name in KNOWN_ADDONS if name in addons]


def profile(name, addons=None):
    """The settings of profile `name`, with `addons` (when not None) instead of the profile's addons."""
    if not isinstance(name, str) or name not in PROFILES:
        raise AnsibleFilterError(
            f"meshlab_profile: {name!r} is not a profile: choose one of {_known(PROFILES)} (docs/profiles.md)"
        )
    settings = dict(PROFILES[name], name=name, known_addons=list(KNOWN_ADDONS))
    settings["gateways"] = list(settings["gateways"])
    settings["addons"] = list(settings["addons"]) if addons is None else _addons(addons)
    if settings["addons"] and not settings["control_plane"]:
        raise AnsibleFilterError(
            f"meshlab_addons: {_known(settings['addons'])} need the control plane, which meshlab_profile"
            f" {name!r} does not run: choose minimal or another profile, or set meshlab_addons: []"
        )
    return settings


class FilterModule:
    def filters(self):
        return {"profile": profile}
