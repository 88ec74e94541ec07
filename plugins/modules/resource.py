#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.resource module: `meshctl apply` and `meshctl delete` as kubernetes.core.k8s users know
them (state present, patched, absent; apply; wait), idempotent."""

from __future__ import annotations

DOCUMENTATION = r"""
module: resource
short_description: Apply, patch or delete mesh resources in meshd, as kubernetes.core.k8s does
version_added: 0.1.0
description:
  - Manages Istio configuration (VirtualService, DestinationRule, Gateway, ...), Namespaces, Services and
    WorkloadEntries in meshd, meshlab's control plane, through C(meshctl apply) and C(meshctl delete), with
    the options a M(kubernetes.core.k8s) user knows.
  - The resources come from a file on the managed host (O(src)), from O(definition) (a mapping, a list, or
    YAML text), or from O(template), Jinja2 templates rendered on the controller with the play's variables.
  - O(state=present) makes each resource as given, replacing the stored one; with O(apply=true) the fields
    given are merged into the live object and the others kept. O(state=patched) merges into resources that
    exist and creates none. O(state=absent) deletes the input's resources, or the one named by O(kind),
    O(name) and O(namespace).
  - Every change is checked by meshctl's dry run first, which also says, per resource, whether it would be
    created, configured or left unchanged (deleted, or already absent). Only when something would change
    does the module apply or delete; C(changed) is V(true) only then.
  - An invalid resource, an unknown kind, a missing name, a O(wait_condition) on a kind that has no status
    conditions, or a template that cannot be found fails the task before anything changes (meshd stores all
    the resources of a task or none).
  - With O(wait), the task waits until each resource is ready, by default until meshd reports it
    C(Reconciled) (every connected proxy serves a config that includes it), and returns the live objects.
author:
  - meshlab maintainers (@meshlab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - ansible.builtin.action_common_attributes.flow
  - meshlab.mesh.meshctl
  - meshlab.mesh.meshctl.config_api
  - meshlab.mesh.meshctl.data_dir
attributes:
  action:
    support: full
    details: The action plugin renders O(template) on the controller.
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Runs meshctl's dry run only and reports what would be created, configured or deleted; no wait.
  diff_mode:
    support: full
    details: >-
      Shows each resource that changes (or would change) as YAML, before and after, without the metadata
      and status meshd sets. In check mode the after is predicted from the input, which needs PyYAML on the
      managed host for YAML text.
  platform:
    platforms: posix
    support: N/A
  action_group:
    support: full
    membership:
      - meshlab.mesh.meshctl
options:
  state:
    description:
      - V(present) creates the resources or makes them as given (merging into the live object with
        O(apply=true)).
      - V(patched) merges the input into resources that exist, as O(apply=true) does, and creates none; a
        resource that does not exist is reported V(absent), with a warning.
      - V(absent) deletes them; only each resource's kind, name and namespace are used. Without an input,
        O(kind) and O(name) (and O(namespace)) name the one to delete.
    type: str
    choices: [present, absent, patched]
    default: present
  apply:
    description:
      - Merge the given fields into the live object and keep the others, as a JSON merge patch (RFC 7386).
        Mappings merge key by key, a null value removes a key, a list or any other value replaces what
        was there. A resource that does not exist is created as given.
      - V(false) replaces the stored resource with the input (fields left out are removed).
      - The merge happens in the module, between meshctl's read of the live object and its apply.
      - Not with O(state=absent), which deletes (the task fails before anything runs).
    type: bool
    default: false
  src:
    description:
      - A YAML (or JSON) file on the managed host with one or more resources, separated by C(---).
      - Excludes O(definition) and O(template).
    type: path
  definition:
    description:
      - The resources, as a mapping (one resource), a list of mappings, or YAML text with one or more
        documents.
      - Excludes O(src) and O(template).
    type: raw
  template:
    description:
      - A Jinja2 template on the controller, rendered with the play's variables into the resources, found
        as M(ansible.builtin.template) finds its C(src) (the role's or play's C(templates/) directory).
      - A path; or a mapping with C(path) and Jinja2 settings (C(variable_start_string),
        C(variable_end_string), C(block_start_string), C(block_end_string), C(trim_blocks),
        C(lstrip_blocks)); or a list of those, rendered in order into one input.
      - The action plugin renders it and hands the text to the module as O(definition); meshctl's messages
        then name the template and the line of the rendered text.
      - Excludes O(src) and O(definition).
    type: raw
  kind:
    description:
      - The kind of the one resource to delete by name (O(state=absent) without an input), as meshctl takes
        kinds (V(VirtualService), V(virtualservice), V(vs), V(Namespace)).
      - Requires O(name).
    type: str
  name:
    description:
      - The name of the one resource to delete by kind and name.
    type: str
  api_version:
    description:
      - With O(kind), the kind's API version, for example V(networking.istio.io/v1); its group must be the
        kind's.
    type: str
  namespace:
    description:
      - The namespace of resources that name none (as C(meshctl apply -n)), and of the resource deleted by
        O(kind) and O(name); C(default) when not set.
      - A resource that names another namespace is refused.
    type: str
  wait:
    description:
      - Wait, after the change, until every resource is ready (O(state=present) and O(state=patched)) or
        gone (O(state=absent)); not in check mode.
      - Ready means it exists and has O(wait_condition); without one, an Istio kind must be C(Reconciled)
        (meshd's status, True once every connected proxy serves a config that includes the resource) and
        any other kind must exist.
      - A wait that times out fails the task, naming what each resource still lacks; the change is made.
    type: bool
    default: false
  wait_condition:
    description:
      - The condition a resource must have to be ready, as M(kubernetes.core.k8s) takes it, for example
        O(wait_condition.type=Reconciled) with O(wait_condition.status=True).
      - Only Istio's kinds have status conditions in meshd; a wait_condition on any other kind (Namespace,
        Service) fails the task before anything changes.
      - Used only with O(wait=true); not with O(state=absent), whose wait is for the resources to be gone
        (the task fails before anything runs).
    type: dict
    suboptions:
      type:
        description:
          - The condition's type, for example V(Reconciled).
        type: str
        required: true
      status:
        description:
          - The condition's status to wait for.
        type: str
        choices: ["True", "False", "Unknown"]
        default: "True"
      reason:
        description:
          - The condition's reason to wait for as well (any reason when not set), for example
            V(ProxiesUpToDate).
        type: str
  wait_timeout:
    description:
      - How many seconds to wait (0 or more).
    type: int
    default: 120
  wait_sleep:
    description:
      - How many seconds to pause between reads of the resources while waiting (0 or more).
    type: int
    default: 1
notes:
  - Unlike M(kubernetes.core.k8s), O(state=present) without O(apply) replaces a stored resource with the
    input (as C(kubectl replace)); set O(apply=true) to merge.
  - O(src) is a file on the managed host, as the module has always read it; render controller files with
    O(template).
  - Deleting a Namespace deletes every resource in it.
seealso:
  - module: meshlab.mesh.resource_info
  - module: meshlab.mesh.namespace
  - module: meshlab.mesh.analyze
  - module: kubernetes.core.k8s
"""

EXAMPLES = r"""
- name: Apply Bookinfo's destination rules with mutual TLS, and wait until every proxy has them
  meshlab.mesh.resource:
    src: /opt/meshlab/bookinfo/networking/destination-rule-all-mtls.yaml
    wait: true

- name: Route every request to reviews v1, from a template in the role's templates/
  meshlab.mesh.resource:
    template: virtual-service-reviews.yaml.j2
    namespace: bookinfo

- name: Add a timeout to the reviews route, keeping the rest of the live object
  meshlab.mesh.resource:
    apply: true
    definition:
      apiVersion: networking.istio.io/v1
      kind: VirtualService
      metadata:
        name: reviews
      spec:
        http:
          - route:
              - destination: {host: reviews, subset: v1}
            timeout: 2s

- name: Label the ingress Gateway if it exists; never create it
  meshlab.mesh.resource:
    state: patched
    definition:
      apiVersion: networking.istio.io/v1
      kind: Gateway
      metadata:
        name: bookinfo-gateway
        labels: {team: shop}

- name: Wait for an explicit condition
  meshlab.mesh.resource:
    src: /opt/meshlab/rules.yaml
    wait: true
    wait_condition:
      type: Reconciled
      status: "True"
      reason: ProxiesUpToDate
    wait_timeout: 60

- name: One resource written inline, on a remote control plane
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

- name: Delete one VirtualService by kind and name
  meshlab.mesh.resource:
    state: absent
    kind: VirtualService
    name: reviews
    namespace: bookinfo

- name: Delete the rules of a file again
  meshlab.mesh.resource:
    src: /opt/meshlab/bookinfo/networking/destination-rule-all-mtls.yaml
    state: absent
"""

RETURN = r"""
result:
  description:
    - With one resource, the live object after the change as meshd stores it (with its C(status) for
      Istio's kinds; after the wait with O(wait)); the object before its deletion with O(state=absent); in
      check mode the object as it would be. Empty when there is none.
    - With several, C(results), one entry per resource in the input's order, each with C(changed),
      C(method) and C(result) (the object), as M(kubernetes.core.k8s) returns them.
  returned: success
  type: dict
  sample:
    apiVersion: networking.istio.io/v1
    kind: DestinationRule
    metadata:
      name: reviews
      namespace: default
      resourceVersion: "12"
      creationTimestamp: "2025-01-31T12:00:00Z"
    spec: {host: reviews}
    status:
      conditions:
        - {type: Reconciled, status: "True", reason: ProxiesUpToDate, message: 2/2 proxies up to date.}
method:
  description: >-
    With one resource, what was done (or would be): V(create), V(replace), V(apply), V(patch) or V(delete).
  returned: success, with one resource
  type: str
  sample: apply
duration:
  description: How many seconds the task waited.
  returned: with O(wait), not in check mode
  type: float
  sample: 0.52
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
        - V(created), V(configured) or V(unchanged) with O(state=present) and O(state=patched);
          V(absent) with O(state=patched) for a resource that does not exist (nothing created).
        - V(deleted) or V(absent) (there was none) with O(state=absent).
      type: str
errors:
  description: >-
    meshctl's reasons for refusing the input, each with C(source) (V(-) for O(definition) and O(template)),
    C(line), C(resource), C(path) and C(message).
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
  description: >-
    The meshctl commands that ran, in order, as argument lists (the token is never among them); while
    waiting, each read is listed once.
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
from ansible_collections.meshlab.mesh.plugins.module_utils.resource import run_resource  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "state": {"type": "str", "choices": ["present", "absent", "patched"], "default": "present"},
                "apply": {"type": "bool", "default": False},
                "src": {"type": "path"},
                "definition": {"type": "raw"},
                "template": {"type": "raw"},
                "kind": {"type": "str"},
                "name": {"type": "str"},
                "api_version": {"type": "str"},
                "namespace": {"type": "str"},
                "wait": {"type": "bool", "default": False},
                "wait_condition": {
                    "type": "dict",
                    "options": {
                        "type": {"type": "str", "required": True},
                        "status": {"type": "str", "choices": ["True", "False", "Unknown"], "default": "True"},
                        "reason": {"type": "str"},
                    },
                },
                "wait_timeout": {"type": "int", "default": 120},
                "wait_sleep": {"type": "int", "default": 1},
            },
        ),
        mutually_exclusive=[("src", "definition"), ("src", "template")],
        required_by={"name": "kind", "api_version": "kind"},
        supports_check_mode=True,
    )
    run_resource(module)


if __name__ == "__main__":
    main()
