# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How meshlab.mesh.resource merges what a task gives into the live object (apply: true, state: patched):
a JSON merge patch (RFC 7386), as the Kubernetes API server applies `merge` patches to custom resources.

Mappings merge key by key, recursively; a null value removes the key; anything else (a list, a string, a
number) replaces what was there. So fields the task does not name are kept, and a list is given whole.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import copy


def merge_patch(target, patch):
    """`target` with `patch` merged in, as RFC 7386 says; neither is changed."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
