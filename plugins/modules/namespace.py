#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.namespace module: a namespace and its labels in meshd, idempotent."""

from __future__ import annotations

DOCUMENTATION = r"""
module: namespace
short_description: Create, label or delete a namespace in meshd
version_added: 0.1.0
description:
  - Makes sure a namespace exists in meshd, meshlab's control plane, with the given labels, or that it
    does not exist.
  - Only the labels in O(labels) are touched; a label with a null value is removed, and labels not named
    are kept.
  - C(changed) is V(true) only when the namespace is created or deleted, or a label actually changes.
  - Labels are checked by meshd before anything changes (in check mode too); a bad key or value fails the
    task naming the label.
author:
  - meshlab maintainers (@meshlab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - meshlab.mesh.meshctl
  - meshlab.mesh.meshctl.config_api
  - meshlab.mesh.meshctl.data_dir
attributes:
  check_mode:
    support: full
    details: Reads the namespace and checks the labels, changes nothing, and reports what would change.
  diff_mode:
    support: full
    details: Shows the namespace as YAML before and after.
  platform:
    platforms: posix
    support: N/A
  action_group:
    support: full
    membership:
      - meshlab.mesh.meshctl
options:
  name:
    description:
      - The namespace's name.
    type: str
    required: true
  labels:
    description:
      - "Labels to set, C(key: value); a null value removes the label."
      - Values are text; V(true) and V(false) become C(true) and C(false).
      - For example C(istio-injection=enabled) turns sidecar injection on for the namespace's workloads.
    type: dict
    default: {}
  state:
    description:
      - V(present) creates the namespace if needed and sets O(labels); V(absent) deletes it.
      - Deleting a namespace deletes every resource in it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: meshlab.mesh.resource
"""

EXAMPLES = r"""
- name: Enable sidecar injection in default
  meshlab.mesh.namespace:
    name: default
    labels:
      istio-injection: enabled

- name: Disable injection again, removing the label
  meshlab.mesh.namespace:
    name: default
    labels:
      istio-injection: null

- name: Remove a namespace and everything in it
  meshlab.mesh.namespace:
    name: scratch
    state: absent
    data_dir: /var/lib/meshd
"""

RETURN = r"""
name:
  description: The namespace's name.
  returned: success
  type: str
  sample: default
result:
  description: >-
    What happened (or would, in check mode): V(created), V(configured), V(unchanged), V(deleted), or
    V(absent) (there was none to delete).
  returned: success
  type: str
  sample: configured
labels:
  description: The namespace's labels afterwards; null when it does not exist.
  returned: success
  type: dict
  sample: {istio-injection: enabled}
commands:
  description: The meshctl commands that ran, in order, as argument lists (the token is never among them).
  returned: always
  type: list
  elements: list
errors:
  description: meshd's reasons for refusing the labels, each with C(path) and C(message).
  returned: when meshd refused the labels
  type: list
  elements: dict
command:
  description: The meshctl command that failed, as an argument list.
  returned: when a meshctl command failed
  type: list
  elements: str
rc:
  description: The exit status of the meshctl command that failed.
  returned: when a meshctl command failed
  type: int
stderr:
  description: What the meshctl command that failed printed on its standard error.
  returned: when a meshctl command failed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (after the documentation, as Ansible expects)

from ansible_collections.meshlab.mesh.plugins.module_utils.args_common import argument_spec  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import run_namespace  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "name": {"type": "str", "required": True},
                "labels": {"type": "dict", "default": {}},
                "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            },
        ),
        supports_check_mode=True,
    )
    run_namespace(module)


if __name__ == "__main__":
    main()
