"""Tables as kubectl and istioctl print them: upper-case headers, left-aligned columns three spaces apart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def render(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def age(timestamp: str, now: datetime | None = None) -> str:
    """kubectl's AGE: `45s`, `12m`, `5h`, `3d` (`<unknown>` when the time cannot be read)."""
    try:
        then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return "<unknown>"
    seconds = max(int(((now or datetime.now(UTC)) - then).total_seconds()), 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 2 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
