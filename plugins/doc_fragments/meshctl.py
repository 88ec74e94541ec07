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
