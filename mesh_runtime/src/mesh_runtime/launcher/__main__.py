"""`python -m mesh_runtime.launcher` is `mesh-lab`."""

from __future__ import annotations

from .main import main

main()
