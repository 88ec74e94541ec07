# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the modules that run meshctl."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  meshctl_path:
    description:
      - The meshctl to run, as a path or as a command name.
      - A path (with a C(/)) must be an executable file on the managed host.
      - A name is looked up on E(PATH), then in C(/opt/meshlab/venv/bin), where the collection's
        C(playbooks/site.yml) installs the runtime.
      - When not set, C(meshctl) is looked up the same way.
    type: path
requirements:
  - meshctl, from meshlab's C(mesh_runtime), on the managed host.
"""

    # The options of the modules that use meshd's config API (meshctl apply, get, delete, label).
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
  data_dir:
    description:
      - meshd's data directory on the managed host, where meshctl finds C(admin-token) and C(root-cert.pem).
      - meshctl's default is E(MESHD_DATA_DIR), else C(/var/lib/meshd).
    type: path
"""
