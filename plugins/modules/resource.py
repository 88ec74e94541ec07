#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.resource module: `meshctl apply` and `meshctl delete`, idempotent."""

from __future__ import annotations

DOCUMENTATION = r"""
module: resource
short_description: Apply or delete mesh resources in meshd
version_added: 0.1.0
description:
  - Applies Istio configuration (VirtualService, DestinationRule, Gateway, ...), Namespaces, Services and
    WorkloadEntries to meshd, meshlab's control plane, with C(meshctl apply), or deletes them with
    C(meshctl delete).
  - The resources come from a file on the managed host (O(src)) or from O(definition), for example the
    output of the C(ansible.builtin.template) lookup, or resources written inline.
  - It first asks meshctl for a dry run, which checks every resource and predicts, for each, whether it
    would be created, configured or left unchanged (deleted or already absent with O(state=absent)).
    Only when something would change does it apply or delete; C(changed) is V(true) only then.
  - An invalid resource fails the task with meshctl's messages, each naming the file, line, resource and
    field path; nothing is applied (meshd stores all the resources of a task or none).
author:
  - meshlab maintainers (@meshlab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - meshlab.mesh.meshctl
  - meshlab.mesh.meshctl.config_api
attributes:
  check_mode:
    support: full
    details: Runs meshctl's dry run only, and reports what would be created, configured or deleted.
  diff_mode:
    support: full
    details: >-
      Shows each resource that changes (or would change) as YAML, before and after, without the metadata
      meshd sets. In check mode the after is predicted from the input, which needs PyYAML on the managed
      host.
  platform:
    platforms: posix
    support: N/A
  action_group:
    support: full
    membership:
      - meshlab.mesh.meshctl
options:
  src:
    description:
      - A YAML (or JSON) file on the managed host with one or more resources, separated by C(---).
      - Excludes O(definition).
    type: path
  definition:
    description:
      - The resources, as a mapping (one resource), a list of mappings, or YAML text with one or more
        documents (for example C(lookup('ansible.builtin.template', 'rules.yaml.j2'))).
      - Excludes O(src).
    type: raw
  namespace:
    description:
      - The namespace of resources that name none (as C(meshctl apply -n)); C(default) when not set.
      - A resource that names another namespace is refused.
    type: str
  state:
    description:
      - V(present) creates the resources or makes them as given; V(absent) deletes them.
      - With V(absent) only each resource's kind, name and namespace are used.
    type: str
    choices: [present, absent]
    default: present
notes:
  - meshd replaces a resource with what is applied, as C(kubectl apply) does with a whole object; fields
    left out of the input are removed.
  - Deleting a Namespace deletes every resource in it.
seealso:
  - module: meshlab.mesh.namespace
  - module: meshlab.mesh.analyze
"""

EXAMPLES = r"""
- name: Apply Bookinfo's destination rules with mutual TLS
  meshlab.mesh.resource:
    src: /opt/meshlab/bookinfo/networking/destination-rule-all-mtls.yaml
    data_dir: /var/lib/meshd

- name: Route every request to reviews v1, from a template
  meshlab.mesh.resource:
    definition: "{{ lookup('ansible.builtin.template', 'virtual-service-reviews.yaml.j2') }}"
    namespace: bookinfo

- name: One resource written inline
  meshlab.mesh.resource:
    definition:
      apiVersion: networking.istio.io/v1
      kind: DestinationRule
      metadata:
        name: reviews
      spec:
        host: reviews
        subsets:
          - name: v1
            labels: {version: v1}
    control_plane: controlplane.lab
    token: "{{ meshd_admin_token }}"
    ca_file: /etc/meshlab/root-cert.pem

- name: Delete the rules again
  meshlab.mesh.resource:
    src: /opt/meshlab/bookinfo/networking/destination-rule-all-mtls.yaml
    state: absent
"""

RETURN = r"""
resources:
  description: Every resource of the input, in its order, with what happened to it (or would, in check mode).
  returned: success
  type: list
  elements: dict
  sample:
    - kind: DestinationRule
      api_group: networking.istio.io
      namespace: default
      name: reviews
      result: configured
  contains:
    kind:
      description: The resource's kind.
      type: str
    api_group:
      description: The kind's API group; empty for Kubernetes' core kinds.
      type: str
    namespace:
      description: The resource's namespace; empty for a Namespace.
      type: str
    name:
      description: The resource's name.
      type: str
    result:
      description:
        - V(created), V(configured) or V(unchanged) with O(state=present).
        - V(deleted) or V(absent) (there was none) with O(state=absent).
      type: str
errors:
  description: >-
    meshctl's reasons for refusing the input, each with C(source) (V(-) for O(definition)), C(line),
    C(resource), C(path) and C(message).
  returned: when meshctl refused the input
  type: list
  elements: dict
  sample:
    - source: rules.yaml
      line: 9
      resource: DestinationRule default/reviews
      path: spec.trafficPolicy.tls.mode
      message: >-
        spec.trafficPolicy.tls.mode: must be one of DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL, found "SOMETIMES"
commands:
  description: The meshctl commands that ran, in order, as argument lists (the token is never among them).
  returned: always
  type: list
  elements: list
command:
  description: The meshctl command that failed, as an argument list.
  returned: when a meshctl command failed
  type: list
  elements: str
rc:
  description: The exit status of the meshctl command that failed.
  returned: when a meshctl command failed
  type: int
  sample: 65
stderr:
  description: What the meshctl command that failed printed on its standard error.
  returned: when a meshctl command failed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (after the documentation, as Ansible expects)

from ansible_collections.meshlab.mesh.plugins.module_utils.args_common import argument_spec  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import run_resource  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "src": {"type": "path"},
                "definition": {"type": "raw"},
                "namespace": {"type": "str"},
                "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            },
            config_api=True,
        ),
        mutually_exclusive=[("src", "definition")],
        required_one_of=[("src", "definition")],
        supports_check_mode=True,
    )
    run_resource(module)


if __name__ == "__main__":
    main()
