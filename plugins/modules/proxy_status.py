#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.proxy_status module: each proxy's sync state with meshd, as istioctl proxy-status shows
it, and waiting for every proxy to be SYNCED."""

from __future__ import annotations

DOCUMENTATION = r"""
module: proxy_status
short_description: Report, or wait for, each proxy's sync state with meshd
version_added: 0.1.0
description:
  - Reads every proxy connected to meshd, meshlab's control plane, and whether it has the config meshd last
    sent it, with C(meshctl proxy-status -o json), as C(istioctl proxy-status) shows it.
  - A proxy is V(SYNCED) when it acknowledged the last config sent, V(STALE) while that config is
    unanswered or was rejected (RV(proxies[].last_error) says why), V(NOT SENT) before its first config.
  - With O(wait_for_sync), waits until every proxy asked about is V(SYNCED) (and O(proxy), when given, is
    connected), and fails, naming each proxy that is not, when O(wait_timeout) passes.
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
    details: Reads and waits the same in check mode; it never changes anything.
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
  proxy:
    description:
      - Only this proxy, by its id, C(<workload>.<namespace>) (for example V(reviews-v1.default)).
      - A proxy that is not connected is reported in RV(unsynced) as V(NOT CONNECTED).
    type: str
  namespace:
    description:
      - Only the proxies of this namespace.
    type: str
  wait_for_sync:
    description:
      - Wait until every proxy asked about is V(SYNCED).
    type: bool
    default: false
  wait_timeout:
    description:
      - How many seconds to wait with O(wait_for_sync).
    type: int
    default: 120
  wait_sleep:
    description:
      - How many seconds to pause between reads while waiting.
    type: int
    default: 1
seealso:
  - module: meshlab.mesh.resource
  - module: meshlab.mesh.version
"""

EXAMPLES = r"""
- name: Wait until every proxy has its config
  meshlab.mesh.proxy_status:
    wait_for_sync: true
    wait_timeout: 60

- name: Read the sync state of one proxy
  meshlab.mesh.proxy_status:
    proxy: reviews-v1.default
  register: reviews_proxy

- name: Read the proxies of a namespace
  meshlab.mesh.proxy_status:
    namespace: default
  register: default_proxies

- name: Report those that are not in sync
  ansible.builtin.debug:
    msg: "{{ item.id }} is {{ item.state }} {{ item.last_error }}"
  loop: "{{ default_proxies.unsynced }}"
"""

RETURN = r"""
proxies:
  description: The proxies asked about, as C(meshctl proxy-status -o json) prints them.
  returned: success
  type: list
  elements: dict
  sample:
    - id: reviews-v1.default
      type: sidecar
      namespace: default
      workload: reviews-v1
      address: 198.18.0.11
      state: SYNCED
      cds: SYNCED
      lds: SYNCED
      rds: SYNCED
      eds: SYNCED
      sent_version: "12.3"
      acked_version: "12.3"
      config_revision: 12
      last_error: ""
      proxy_version: 0.1.0
      admin_address: 127.0.0.1:15000
      connected_at: "2025-01-31T12:00:00Z"
  contains:
    id:
      description: The proxy's id, C(<workload>.<namespace>).
      type: str
    state:
      description: V(SYNCED), V(STALE) or V(NOT SENT), over every config type.
      type: str
    config_revision:
      description: The store revision the proxy's config was last built from or found current at.
      type: int
    last_error:
      description: Why the proxy rejected its last config; empty when it did not.
      type: str
synced:
  description: Whether every proxy asked about is V(SYNCED) (and O(proxy), when given, is connected).
  returned: success
  type: bool
  sample: true
unsynced:
  description: >-
    The proxies that are not V(SYNCED), each with C(id), C(state) (V(NOT CONNECTED) for an O(proxy) that is
    not connected) and C(last_error).
  returned: always
  type: list
  elements: dict
  sample:
    - {id: ratings-v1.default, state: STALE, last_error: "route ratings: no such cluster"}
counts:
  description: How many proxies are in each state.
  returned: success
  type: dict
  sample: {SYNCED: 7, STALE: 0, NOT SENT: 0}
duration:
  description: How many seconds the task waited.
  returned: with O(wait_for_sync)
  type: float
  sample: 1.02
commands:
  description: The meshctl commands that ran (each read once, however often it was repeated while waiting).
  returned: always
  type: list
  elements: list
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
from ansible_collections.meshlab.mesh.plugins.module_utils.proxies import run_proxy_status  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "proxy": {"type": "str"},
                "namespace": {"type": "str"},
                "wait_for_sync": {"type": "bool", "default": False},
                "wait_timeout": {"type": "int", "default": 120},
                "wait_sleep": {"type": "int", "default": 1},
            },
        ),
        supports_check_mode=True,
    )
    run_proxy_status(module)


if __name__ == "__main__":
    main()
