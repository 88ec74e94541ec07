"""`python -m bookinfo <service>`: the same as the `bookinfo` command."""

from __future__ import annotations

from .cli import main

main()
