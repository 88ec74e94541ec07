# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options several modules share, specified once (documented once, in the meshlab.mesh.meshctl doc
fragment): where meshctl is, and how it reaches meshd's config API. A module builds its argument spec with
`argument_spec(own, config_api=...)`, so no module copies them.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import copy

#: Every module that runs meshctl.
MESHCTL_ARGS = {
    "meshctl_path": {"type": "path"},
}

#: The modules that use meshd's config API (meshctl apply, get, delete, label): documented by the
#: meshlab.mesh.meshctl.CONFIG_API fragment.
CONFIG_API_ARGS = {
    "control_plane": {"type": "str"},
    "token": {"type": "str", "no_log": True},
    "ca_file": {"type": "path"},
    "data_dir": {"type": "path"},
}


def argument_spec(own, config_api=False):
    """The module's own options, then the shared ones (a fresh copy each call); an own option may not
    reuse a shared name."""
    shared = dict(MESHCTL_ARGS, **(CONFIG_API_ARGS if config_api else {}))
    clash = sorted(set(own) & set(shared))
    if clash:
        raise ValueError(f"options {', '.join(clash)} are shared; do not declare them again")
    spec = copy.deepcopy(own)
    spec.update(copy.deepcopy(shared))
    return spec
