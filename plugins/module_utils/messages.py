# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Analyzer messages as meshctl prints them in JSON: levels, counts, one-line descriptions, suppressions.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    LEVELS,
    QUOTED_MESSAGES,
    MeshctlError,
    _excerpt,
    json_output,
)

# ---------------------------------------------------------------------------------------------------------
# Levels and messages


def level_rank(level):
    """The severity of a level name; a level meshctl does not define ranks as the most severe."""
    try:
        return LEVELS.index(level)
    except ValueError:
        return len(LEVELS)


def at_or_above(messages, threshold):
    """The messages whose level is at or above `threshold`, in meshctl's order."""
    floor = level_rank(threshold)
    return [m for m in messages if level_rank(m.get("level")) >= floor]


def count_by_level(messages):
    """How many messages there are of each level; every known level is present, even at zero."""
    counts = {level: 0 for level in reversed(LEVELS)}
    for message in messages:
        level = message.get("level") or "Unknown"
        counts[level] = counts.get(level, 0) + 1
    return counts


def describe_message(message):
    """One message on one line, much as `meshctl analyze` prints it in its log format."""
    where = " ".join(part for part in (message.get("origin"), message.get("reference")) if part)
    head = f"{message.get('level', 'Unknown')} [{message.get('code', '?')}]"
    if where:
        head = f"{head} ({where})"
    return f"{head} {message.get('message', '')}"


def describe_messages(messages, limit=QUOTED_MESSAGES):
    """The first `limit` messages, one per line, then how many more there are."""
    lines = [describe_message(m) for m in messages[:limit]]
    if len(messages) > limit:
        lines.append(f"... and {len(messages) - limit} more (see messages in the result)")
    return "\n".join(lines)


def parse_messages(stdout):
    """The list of messages `meshctl analyze -o json` printed, or a MeshctlError saying what was wrong."""
    if not stdout.strip():
        return []
    data = json_output(stdout, "meshctl analyze", list, "a list of messages")
    if not all(isinstance(m, dict) for m in data):
        raise MeshctlError(
            f"meshctl analyze printed JSON that is not a list of messages: {_excerpt(stdout.strip())}",
            stdout=stdout,
        )
    return data


def check_suppression(value, index):
    """One `suppress` entry (CODE=PATTERN); a MeshctlError names the entry when it is malformed."""
    code, sep, pattern = value.partition("=")
    if not sep or not code.strip() or not pattern.strip():
        raise MeshctlError(
            f"suppress[{index}]: {value!r} is not CODE=PATTERN; write for example 'IST0103=Pod testing/*'"
        )
    return value
