"""Helpers shared by the analyzer tests: a YAML file written for one test, and meshctl analyze on it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import MeshctlRunner, Result

FILES_ONLY = "--use-kube=false"


class Config:
    """A YAML file written for one test, with the line of any text in it."""

    def __init__(self, tmp_path: Path, text: str) -> None:
        self.text = textwrap.dedent(text)
        self.path = tmp_path / "config.yaml"
        self.path.write_text(self.text)

    def line(self, needle: str) -> int:
        found = [n for n, line in enumerate(self.text.splitlines(), start=1) if needle in line]
        assert len(found) == 1, f"{needle!r} is on lines {found}"
        return found[0]

    def at(self, needle: str) -> str:
        """`path:line` of the one line holding `needle`."""
        return f"{self.path}:{self.line(needle)}"

    def start_of(self, needle: str) -> str:
        """`path:line` of the first line of the document holding `needle` (its first non-blank line)."""
        lines = self.text.splitlines()
        first = self.line(needle)
        while first > 1 and lines[first - 2].strip() != "---":
            first -= 1
        while not lines[first - 1].strip():
            first += 1
        return f"{self.path}:{first}"

    def analyze(self, meshctl: MeshctlRunner, analyzer: str, *flags: str) -> Result:
        return meshctl("analyze", FILES_ONLY, "--analyzer", analyzer, *flags, str(self.path))
