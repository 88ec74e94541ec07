#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.resource_info module: resources stored in meshd, as kubernetes.core.k8s_info reads
them."""

from __future__ import annotations

DOCUMENTATION = r"""
module: resource_info
short_description: Read resources stored in meshd, one by name or a list with selectors
version_added: 0.1.0
description:
  - Reads resources from meshd, meshlab's control plane, with C(meshctl get -o json), as
    M(kubernetes.core.k8s_info) reads them from a Kubernetes API server.
  - With O(name), the one resource of that name (none when it does not exist); without, every resource of
    O(kind) in O(namespace), or in every namespace when O(namespace) is not set, chosen by
    O(label_selectors) and O(field_selectors).
  - Istio's kinds come with their C(status) (meshd's C(Reconciled) condition); O(kind=Pod) reads the
    workloads of meshd's registry, as C(meshctl get pods) shows them.
  - Never changes anything.
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
    details: Reads the same in check mode; it never changes anything.
  diff_mode:
    support: N/A
    details: Nothing changes, so there is no diff.
  platform:
    platforms: posix
    support: N/A
  action_group:
    support: full
    membership:
      - meshlab.mesh.meshctl
options:
  kind:
    description:
      - The kind to read, as meshctl takes kinds (V(VirtualService), V(virtualservices), V(vs),
        V(Namespace), V(Service), V(Pod)).
      - A kind meshd does not store returns no resources, with RV(api_found=false) and a warning.
    type: str
    required: true
  api_version:
    description:
      - The kind's API version, for example V(networking.istio.io/v1); its group must be the kind's.
    type: str
  name:
    description:
      - The name of the one resource to read; in O(namespace), else C(default).
      - Excludes O(label_selectors) and O(field_selectors).
    type: str
  namespace:
    description:
      - The namespace to read; every namespace when not set (and O(name) is not set).
    type: str
  label_selectors:
    description:
      - Label selectors, all of which a resource must meet, each as kubectl writes them; for example
        V(app=reviews), V(version!=v1), V(tier in (front,back)), V(canary), V(!legacy).
    type: list
    elements: str
    default: []
  field_selectors:
    description:
      - Field selectors, all of which a resource must meet, each V(field=value) or V(field!=value).
      - Every kind supports C(metadata.name) and C(metadata.namespace); Pods also C(spec.nodeName),
        C(spec.serviceAccountName), C(status.phase) and C(status.podIP); Namespaces C(status.phase). Any
        other field fails the task, naming it.
    type: list
    elements: str
    default: []
seealso:
  - module: meshlab.mesh.resource
  - module: meshlab.mesh.proxy_status
  - module: kubernetes.core.k8s_info
"""

EXAMPLES = r"""
- name: Read one VirtualService
  meshlab.mesh.resource_info:
    kind: VirtualService
    name: reviews
    namespace: default
  register: reviews

- name: Every DestinationRule of the reviews app, in every namespace
  meshlab.mesh.resource_info:
    kind: DestinationRule
    label_selectors:
      - app=reviews

- name: The workloads on node01 that are not v1
  meshlab.mesh.resource_info:
    kind: Pod
    label_selectors: [version!=v1]
    field_selectors: [spec.nodeName=node01]

- name: Read every VirtualService of default
  meshlab.mesh.resource_info:
    kind: vs
    namespace: default
  register: routes

- name: Fail unless each of them is at every proxy
  ansible.builtin.assert:
    that: >-
      routes.resources | map(attribute='status.conditions') | flatten
      | selectattr('type', 'equalto', 'Reconciled') | rejectattr('status', 'equalto', 'True')
      | list | length == 0
"""

RETURN = r"""
resources:
  description: The resources found, as meshd stores them (with server metadata, and status for Istio's kinds).
  returned: success
  type: list
  elements: dict
  sample:
    - apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata: {name: reviews, namespace: default, resourceVersion: "7"}
      spec: {hosts: [reviews]}
      status:
        conditions:
          - {type: Reconciled, status: "True", reason: ProxiesUpToDate, message: 1/1 proxies up to date.}
api_found:
  description: Whether meshd stores O(kind); false for a kind it does not know.
  returned: success
  type: bool
  sample: true
command:
  description: The meshctl command that ran (or failed), as an argument list (the token is never in it).
  returned: always
  type: list
  elements: str
rc:
  description: The exit status of the meshctl command that failed.
  returned: when meshctl failed
  type: int
stderr:
  description: What the meshctl command that failed printed on its standard error.
  returned: when meshctl failed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (after the documentation, as Ansible expects)

from ansible_collections.meshlab.mesh.plugins.module_utils.args_common import argument_spec  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.info import run_resource_info  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "kind": {"type": "str", "required": True},
                "api_version": {"type": "str"},
                "name": {"type": "str"},
                "namespace": {"type": "str"},
                "label_selectors": {"type": "list", "elements": "str", "default": []},
                "field_selectors": {"type": "list", "elements": "str", "default": []},
            },
        ),
        supports_check_mode=True,
    )
    run_resource_info(module)


if __name__ == "__main__":
    main()
