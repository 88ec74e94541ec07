#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.version module: `meshctl version` as an Ansible check."""

from __future__ import annotations

DOCUMENTATION = r"""
module: version
short_description: Report meshctl, control plane and data plane versions
version_added: 0.1.0
description:
  - Runs C(meshctl version) on the managed host and returns the version of meshctl and, when a control
    plane (C(meshd)) answers, the versions of its components and of the proxies it knows.
  - It is a check only, so it never changes anything and always returns C(changed=false).
  - It fails only when asked to, with O(expected_version) or O(fail_on_skew), or when meshctl fails.
  - No control plane is not a failure; RV(control_plane_present) is then V(false).
author:
  - meshlab maintainers (@meshlab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - meshlab.mesh.meshctl
  - meshlab.mesh.meshctl.ignored_credentials
  - meshlab.mesh.meshctl.ignored_data_dir
attributes:
  check_mode:
    support: full
    details: Reading versions changes nothing, so it runs in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
    support: N/A
  action_group:
    support: full
    membership:
      - meshlab.mesh.meshctl
options:
  expected_version:
    description:
      - Fail when meshctl or a control plane component has another version.
      - Versions are compared as text, for example V(0.1.0).
    type: str
  fail_on_skew:
    description:
      - Fail when meshctl, the control plane and the data plane do not all have the same version.
    type: bool
    default: false
  control_plane:
    description:
      - The control plane's address, C(host) or C(host:port) (monitoring port, 15014 by default).
      - meshctl's default is E(MESHCTL_CONTROL_PLANE), else C(127.0.0.1).
    type: str
  remote:
    description:
      - Ask the control plane for its and the data plane's versions.
      - With V(false) only meshctl's own version is reported.
    type: bool
    default: true
seealso:
  - module: meshlab.mesh.analyze
"""

EXAMPLES = r"""
- name: Read the mesh's versions
  meshlab.mesh.version:
  register: mesh_version

- name: Fail unless everything runs 0.1.0
  meshlab.mesh.version:
    expected_version: 0.1.0
    fail_on_skew: true
    control_plane: controlplane.lab:15014

- name: Read meshctl's version only
  meshlab.mesh.version:
    remote: false
"""

RETURN = r"""
client_version:
  description: meshctl's version.
  returned: success
  type: str
  sample: 0.1.0
control_plane_present:
  description: Whether a control plane answered.
  returned: success
  type: bool
  sample: false
control_plane_versions:
  description: The control plane's components and their versions; empty when none answered.
  returned: success
  type: list
  elements: dict
  sample: [{component: meshd, revision: default, version: 0.1.0}]
  contains:
    component:
      description: The component's name.
      type: str
    revision:
      description: The control plane's revision.
      type: str
    version:
      description: The component's version.
      type: str
data_plane_versions:
  description: The proxies' versions, each with how many proxies run it; empty when none answered.
  returned: success
  type: list
  elements: dict
  sample: [{version: 0.1.0, count: 7}]
  contains:
    version:
      description: A proxy version.
      type: str
    count:
      description: How many proxies run it.
      type: int
skew:
  description: Whether meshctl, the control plane and the data plane report different versions.
  returned: success
  type: bool
  sample: false
raw:
  description: The document C(meshctl version -o json) printed.
  returned: success
  type: dict
  sample:
    clientVersion: {version: 0.1.0, revision: meshlab, python_version: 3.11.2, status: Clean, tag: 0.1.0}
command:
  description: The meshctl command that ran, as an argument list.
  returned: when meshctl ran
  type: list
  elements: str
rc:
  description: meshctl's exit status.
  returned: when meshctl ran
  type: int
  sample: 0
stderr:
  description: What meshctl printed on its standard error, for example why no control plane answered.
  returned: when meshctl ran
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (after the documentation, as Ansible expects)

from ansible_collections.meshlab.mesh.plugins.module_utils.args_common import argument_spec  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.version import run_version  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "expected_version": {"type": "str"},
                "fail_on_skew": {"type": "bool", "default": False},
                "control_plane": {"type": "str"},
                "remote": {"type": "bool", "default": True},
            },
            replaces=("control_plane",),
        ),
        supports_check_mode=True,
    )
    run_version(module)


if __name__ == "__main__":
    main()
