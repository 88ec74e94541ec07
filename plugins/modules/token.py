#!/usr/bin/python
# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.token module: meshd's bootstrap tokens, registered idempotently, issued or revoked."""

from __future__ import annotations

DOCUMENTATION = r"""
module: token
short_description: Register, issue or revoke meshd's bootstrap tokens
version_added: 0.1.0
description:
  - Manages the bootstrap tokens a workload presents to meshd, meshlab's control plane, for its first
    certificate, each allowing some identities (C(<namespace>/<service account>) or C(<namespace>/*)).
    Run it on the host whose meshd data directory (O(data_dir)) holds them; it runs C(meshd token) there,
    and a running meshd takes the change at once.
  - With O(value), registers that token (made elsewhere, for example on the controller) allowing exactly
    O(identities), with O(description) and O(ttl); idempotent, C(changed) only when the token is new or
    its identities, description or expiry change.
  - Without O(value), issues a new random token (as C(meshd token create)), returned once in RV(value);
    every run issues another.
  - O(state=absent) revokes the token named by O(token_id) or by O(value).
  - The token's value goes to meshd on its standard input only; O(value) is C(no_log), and meshd keeps
    only the token's hash.
author:
  - meshlab maintainers (@meshlab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.actiongroups
  - meshlab.mesh.meshctl
  - meshlab.mesh.meshctl.ignored_config_api
  - meshlab.mesh.meshctl.data_dir
attributes:
  check_mode:
    support: full
    details: meshd checks the identities and reports what would change (C(--dry-run)); nothing is stored.
  diff_mode:
    support: full
    details: Shows the token's id, identities, expiry and description before and after (never the token).
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
      - V(present) registers O(value), or issues a new token without it; V(absent) revokes one.
    type: str
    choices: [present, absent]
    default: present
  value:
    description:
      - The token, at least 22 URL-safe base64 letters (C(A-Z a-z 0-9 - _)), for example made and kept on
        the controller with the C(ansible.builtin.password) lookup (see the examples).
      - With O(state=present), the token to register; with O(state=absent), the token to revoke.
      - Never logged, never on a command line.
    type: str
  identities:
    description:
      - The identities the token allows, each C(<namespace>/<service account>) or C(<namespace>/*); required
        with O(state=present).
      - A registered token is made to allow exactly these.
    type: list
    elements: str
  description:
    description:
      - What the token is for, shown by C(meshd token list).
    type: str
    default: ""
  ttl:
    description:
      - How long the token is valid, for example V(24h) or V(30m), counted from its first registration;
        when not set, a new token never expires and a registered one keeps its expiry.
    type: str
  token_id:
    description:
      - With O(state=absent), the id of the token to revoke, as C(meshd token list) and RV(token_id) show it.
    type: str
  meshd_path:
    description:
      - The meshd to run, as a path or as a command name.
      - When not set, C(meshd) beside O(meshctl_path) (when that is a path), else in
        C(/opt/meshlab/venv/bin), else on E(PATH).
    type: path
notes:
  - A task that issues a token (no O(value)) returns it in RV(value); set C(no_log) on the task to keep it
    out of logs, as Ansible cannot hide a value a module returns.
seealso:
  - module: meshlab.mesh.resource
"""

EXAMPLES = r"""
- name: Register the reviews proxy's token, made and kept on the controller
  meshlab.mesh.token:
    value: "{{ lookup('ansible.builtin.password', 'credentials/reviews.token',
                      chars=['ascii_letters', 'digits'], length=43) }}"
    identities:
      - default/bookinfo-reviews
    description: "meshlab: default/bookinfo-reviews"
    data_dir: /var/lib/meshd

- name: Issue a one-day token for any service account of the shop namespace
  meshlab.mesh.token:
    identities: [shop/*]
    ttl: 24h
  register: shop_token
  no_log: true

- name: Revoke it again
  meshlab.mesh.token:
    state: absent
    token_id: "{{ shop_token.token_id }}"
"""

RETURN = r"""
result:
  description: >-
    What happened (or would, in check mode): V(created), V(configured), V(unchanged), V(revoked), or
    V(absent) (there was no such token to revoke).
  returned: success
  type: str
  sample: created
token_id:
  description: The token's id (null for a token a check run would create).
  returned: success
  type: str
  sample: 3fa9c2d1
identities:
  description: The identities the token allows (afterwards; before, for a revoked one).
  returned: success
  type: list
  elements: str
  sample: [default/bookinfo-reviews]
expires:
  description: When the token expires, in UTC (null for never).
  returned: success
  type: str
  sample: "2025-02-01T12:00:00Z"
description:
  description: The token's description.
  returned: success
  type: str
value:
  description: The token issued, shown only this once; absent in check mode and when O(value) was given.
  returned: when a token was issued
  type: str
commands:
  description: The meshd commands that ran, as argument lists (the token is never among them).
  returned: always
  type: list
  elements: list
rc:
  description: The exit status of the meshd command that failed.
  returned: when meshd failed
  type: int
stderr:
  description: What the meshd command that failed printed on its standard error (never the token).
  returned: when meshd failed
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 (after the documentation, as Ansible expects)

from ansible_collections.meshlab.mesh.plugins.module_utils.args_common import argument_spec  # noqa: E402
from ansible_collections.meshlab.mesh.plugins.module_utils.tokens import run_token  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
                "value": {"type": "str", "no_log": True},
                "identities": {"type": "list", "elements": "str"},
                "description": {"type": "str", "default": ""},
                "ttl": {"type": "str"},
                "token_id": {"type": "str"},
                "meshd_path": {"type": "path"},
            },
        ),
        mutually_exclusive=[("value", "token_id")],
        supports_check_mode=True,
    )
    run_token(module)


if __name__ == "__main__":
    main()
