"""Message levels, ordered as Istio orders them (Error is the worst)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Level:
    sort_order: int
    name: str

    def __str__(self) -> str:
        return self.name

    def at_least(self, threshold: Level) -> bool:
        """Whether this level is as bad as `threshold` or worse."""
        return self.sort_order <= threshold.sort_order


ERROR = Level(0, "Error")
WARNING = Level(1, "Warning")
INFO = Level(2, "Info")
LEVELS = (ERROR, WARNING, INFO)


def parse_level(text: str) -> Level:
    """`error`, `Warning`, `INFO` → the level; ValueError naming the choices otherwise."""
    for level in LEVELS:
        if level.name.lower() == text.strip().lower():
            return level
    raise ValueError(f"{text!r} is not a level; use one of: {', '.join(lv.name for lv in LEVELS)}")
