#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.analyze module: `meshctl analyze` as an Ansible check."""

from __future__ import annotations

DOCUMENTATION = r"""
module: analyze
short_description: Analyze mesh configuration with meshctl analyze
version_added: 0.1.0
description:
  - Runs C(meshctl analyze) on the managed host and returns the validation messages it reports, as
    C(istioctl analyze) would for the same Istio configuration.
  - It is a check only, so it never changes anything and always returns C(changed=false).
  - It fails only when messages reach O(failure_threshold), or when meshctl cannot do its work (a file
    that cannot be parsed, a missing file, an incorrect option).
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
    details: The analysis reads configuration only, so it runs in check mode too.
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
  files:
    description:
      - Files and directories on the managed host to analyze; directories are read recursively
        (C(.yaml), C(.yml) and C(.json)).
      - Required while O(use_kube=false).
    type: list
    elements: path
    default: []
  namespace:
    description:
      - The namespace to report messages for; meshctl's default is C(default).
      - Resources without a namespace are placed in it, as C(kubectl apply) would.
      - Excludes O(all_namespaces).
    type: str
  all_namespaces:
    description:
      - Report messages for every namespace (C(--all-namespaces)).
    type: bool
    default: false
  use_kube:
    description:
      - Analyze the live mesh as well as O(files) - meshd's stored config, namespaces and workloads, read
        through its config API (O(control_plane), O(token), O(ca_file), O(data_dir)).
      - The default is V(false), so that files can be analyzed where no meshd runs; with V(true) the task
        fails when meshd cannot be reached.
    type: bool
    default: false
  failure_threshold:
    description:
      - The lowest level that makes the task fail.
    type: str
    choices: [Error, Warning, Info]
    default: Error
  output_threshold:
    description:
      - The lowest level returned in RV(messages).
      - RV(counts) always counts every level.
    type: str
    choices: [Error, Warning, Info]
    default: Info
  suppress:
    description:
      - Messages to suppress, each C(CODE=PATTERN) where PATTERN matches C(Kind namespace/name) and
        C(*) matches anything, for example C(IST0103=Pod testing/*).
    type: list
    elements: str
    default: []
  analyzers:
    description:
      - Run only these analyzers, by their Istio names (for example C(gateway.IngressGatewayPortAnalyzer)).
      - All analyzers run when empty.
    type: list
    elements: str
    default: []
  mesh_config_file:
    description:
      - A MeshConfig YAML file on the managed host to analyze with, instead of the defaults.
    type: path
  ignore_unknown:
    description:
      - Skip files that cannot be parsed, with a warning, instead of failing.
    type: bool
    default: false
notes:
  - meshctl's JSON messages are returned as it prints them; their codes and texts are Istio's, see
    U(https://istio.io/latest/docs/reference/config/analysis/).
seealso:
  - module: meshlab.mesh.version
"""

EXAMPLES = r"""
- name: Analyze Bookinfo's gateway and services before deploying them
  meshlab.mesh.analyze:
    files:
      - /srv/bookinfo/bookinfo-gateway.yaml
      - /srv/bookinfo/bookinfo.yaml
  register: analysis

- name: Fail on warnings too, in every namespace, ignoring one known message
  meshlab.mesh.analyze:
    files: [/srv/mesh/config]
    all_namespaces: true
    failure_threshold: Warning
    suppress:
      - IST0103=Pod testing/*

- name: Report only errors from one analyzer, with a given meshctl
  meshlab.mesh.analyze:
    files: [/srv/mesh/config]
    analyzers: [virtualservice.GatewayAnalyzer]
    output_threshold: Error
    meshctl_path: /opt/meshlab/venv/bin/meshctl
"""

RETURN = r"""
messages:
  description:
    - The messages at or above O(output_threshold), as meshctl prints them with C(-o json).
  returned: when meshctl analyzed the files
  type: list
  elements: dict
  sample:
    - code: IST0162
      level: Warning
      message: The gateway is listening on a target port (port 8080) that is not defined in the Service ...
      origin: Gateway default/bookinfo-gateway
      reference: bookinfo-gateway.yaml:9
      documentationUrl: https://istio.io/v1.32/docs/reference/config/analysis/ist0162/?ref=istioctl-analyze
  contains:
    code:
      description: The message's code.
      type: str
    level:
      description: V(Error), V(Warning) or V(Info).
      type: str
    message:
      description: What is wrong.
      type: str
    origin:
      description: The resource the message is about, C(Kind namespace/name).
      type: str
      returned: when the message is about a resource
    reference:
      description: Where the resource is defined, C(file:line).
      type: str
      returned: when the resource came from a file
    documentationUrl:
      description: The message's documentation.
      type: str
counts:
  description:
    - How many messages meshctl found at each level, including levels below O(output_threshold).
  returned: when meshctl analyzed the files
  type: dict
  sample: {Error: 0, Warning: 1, Info: 0}
issues:
  description: Whether RV(messages) is not empty.
  returned: when meshctl analyzed the files
  type: bool
  sample: true
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
  description: What meshctl printed on its standard error.
  returned: when meshctl ran
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (after the documentation, as Ansible expects)

from ansible_collections.meshlab.mesh.plugins.module_utils.analyze import run_analyze  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.args_common import argument_spec  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.runner import LEVELS  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "files": {"type": "list", "elements": "path", "default": []},
                "namespace": {"type": "str"},
                "all_namespaces": {"type": "bool", "default": False},
                "use_kube": {"type": "bool", "default": False},
                "failure_threshold": {"type": "str", "choices": list(reversed(LEVELS)), "default": "Error"},
                "output_threshold": {"type": "str", "choices": list(reversed(LEVELS)), "default": "Info"},
                "suppress": {"type": "list", "elements": "str", "default": []},
                "analyzers": {"type": "list", "elements": "str", "default": []},
                "mesh_config_file": {"type": "path"},
                "ignore_unknown": {"type": "bool", "default": False},
            },
        ),
        supports_check_mode=True,
    )
    run_analyze(module)


if __name__ == "__main__":
    main()
