# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the modules of the meshlab.mesh.meshctl action group share, specified once (documented once,
in the meshlab.mesh.meshctl doc fragments): where meshctl is, how it reaches meshd's config API, and meshd's
data directory. A module builds its argument spec with `argument_spec(own)`, so no module copies them.

Every module of the group accepts every shared option, so that one `module_defaults` entry for
group/meshlab.mesh.meshctl serves them all (as kubernetes.core's modules all take the connection options);
a module uses those its documentation says it uses and ignores the others (the `.ignored_*` fragments).
A module that gives a shared name its own meaning (meshlab.mesh.version's control_plane, the monitoring
address) names it in `replaces`.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import copy

#: Every module that runs meshctl.
MESHCTL_ARGS = {
    "meshctl_path": {"type": "path"},
}

#: meshd's config API (meshctl apply, get, delete, label, proxy-status, analyze of the live mesh):
#: documented by the meshlab.mesh.meshctl.config_api fragment.
CONFIG_API_ARGS = {
    "control_plane": {"type": "str"},
    "token": {"type": "str", "no_log": True},
    "ca_file": {"type": "path"},
}

#: meshd's data directory on the managed host (meshctl's admin token and root certificate, meshd's
#: bootstrap tokens): documented by the meshlab.mesh.meshctl.data_dir fragment.
DATA_DIR_ARGS = {
    "data_dir": {"type": "path"},
}

#: Every shared option of the group.
GROUP_ARGS = dict(MESHCTL_ARGS, **CONFIG_API_ARGS, **DATA_DIR_ARGS)


def argument_spec(own, replaces=()):
    """The module's own options, then every shared one it does not replace (a fresh copy each call). An
    own option may reuse a shared name only when `replaces` names it."""
    clash = sorted((set(own) & set(GROUP_ARGS)) - set(replaces))
    if clash:
        raise ValueError(f"options {', '.join(clash)} are shared; do not declare them again")
    unknown = sorted(set(replaces) - set(own))
    if unknown:
        raise ValueError(f"replaces names {', '.join(unknown)}, which the module does not declare")
    spec = copy.deepcopy(own)
    spec.update(copy.deepcopy({name: option for name, option in GROUP_ARGS.items() if name not in replaces}))
    return spec
