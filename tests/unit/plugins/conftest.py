"""Make the collection importable as ansible_collections.meshlab.mesh, the name its modules use.

collections/ansible_collections/meshlab/mesh is a symlink to the checkout (see ansible.cfg); putting
collections/ on sys.path lets `ansible_collections` (a namespace package, also shipped by the `ansible`
package) find meshlab.mesh there.
"""

from __future__ import annotations

import sys
from pathlib import Path

COLLECTIONS = Path(__file__).resolve().parents[3] / "collections"

if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
