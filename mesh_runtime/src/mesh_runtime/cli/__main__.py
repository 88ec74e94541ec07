"""`python -m mesh_runtime.cli` runs meshctl."""

from .main import main

main()
