# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the modules that run meshctl (and meshd), one fragment per group of the shared
options in plugins/module_utils/args_common.py."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  meshctl_path:
    description:
      - The meshctl to run, as a path or as a command name.
      - A path (with a C(/)) must be an executable file on the managed host; it is used as it is.
      - A name is looked for in C(/opt/meshlab/venv/bin) first, where the collection's C(playbooks/site.yml)
        installs the runtime, then on E(PATH). So the installed meshctl is preferred over another one on
        E(PATH); give a path to run another.
      - When not set, C(meshctl) is looked for the same way.
    type: path
requirements:
  - meshctl, from meshlab's C(mesh_runtime), on the managed host.
"""

    # The options of the modules that use meshd's config API (meshctl apply, get, delete, label,
    # proxy-status); they take DATA_DIR too.
    CONFIG_API = r"""
options:
  control_plane:
    description:
      - meshd's config API, C(host) or C(host:port); the port is 15080 when not given.
      - meshctl's default is E(MESHCTL_CONTROL_PLANE), else C(127.0.0.1).
      - A host without a port can be shared with M(meshlab.mesh.version) through the action group, which
        adds its own default port (15014, monitoring).
    type: str
  token:
    description:
      - The admin token meshctl presents to meshd.
      - Passed in meshctl's environment (E(MESHCTL_TOKEN)), never on its command line.
      - meshctl's default is E(MESHCTL_TOKEN), else the C(admin-token) file of O(data_dir).
    type: str
  ca_file:
    description:
      - The root certificate meshctl verifies meshd by, a file on the managed host.
      - meshctl's default is C(root-cert.pem) in O(data_dir).
    type: path
"""

    # meshd's data directory on the managed host.
    DATA_DIR = r"""
options:
  data_dir:
    description:
      - meshd's data directory on the managed host, where meshctl finds C(admin-token) and C(root-cert.pem)
        and meshd keeps its bootstrap tokens (C(bootstrap-tokens.json)).
      - The default is E(MESHD_DATA_DIR), else C(/var/lib/meshd).
    type: path
"""

    # The shared options a module of the group accepts and does not use: one module_defaults entry for
    # group/meshlab.mesh.meshctl may set them for every module.
    IGNORED_CONFIG_API = r"""
options:
  control_plane:
    description:
      - Not used by this module, which does not talk to meshd's config API.
      - Accepted so that C(module_defaults) for C(group/meshlab.mesh.meshctl) can set it for every module of
        the group.
    type: str
  token:
    description:
      - Not used by this module, which does not talk to meshd's config API.
      - Accepted so that C(module_defaults) for C(group/meshlab.mesh.meshctl) can set it for every module of
        the group.
    type: str
  ca_file:
    description:
      - Not used by this module, which does not talk to meshd's config API.
      - Accepted so that C(module_defaults) for C(group/meshlab.mesh.meshctl) can set it for every module of
        the group.
    type: path
"""

    IGNORED_CREDENTIALS = r"""
options:
  token:
    description:
      - Not used by this module, which reads meshd's monitoring port (no token, plain HTTP).
      - Accepted so that C(module_defaults) for C(group/meshlab.mesh.meshctl) can set it for every module of
        the group.
    type: str
  ca_file:
    description:
      - Not used by this module, which reads meshd's monitoring port (no token, plain HTTP).
      - Accepted so that C(module_defaults) for C(group/meshlab.mesh.meshctl) can set it for every module of
        the group.
    type: path
"""

    IGNORED_DATA_DIR = r"""
options:
  data_dir:
    description:
      - Not used by this module.
      - Accepted so that C(module_defaults) for C(group/meshlab.mesh.meshctl) can set it for every module of
        the group.
    type: path
"""
