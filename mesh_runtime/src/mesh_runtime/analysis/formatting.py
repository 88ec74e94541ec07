"""Print messages as istioctl does: log lines, or JSON/YAML arrays with istioctl's keys."""

from __future__ import annotations

import json
from collections.abc import Sequence

import yaml

from .messages import Message

LOG, JSON, YAML = "log", "json", "yaml"
FORMATS = (LOG, JSON, YAML)


def render(messages: Sequence[Message], output: str, color: bool = False) -> str:
    """The text printed on stdout (without istioctl's trailing newline)."""
    if output == JSON:
        return render_json(messages)
    if output == YAML:
        return render_yaml(messages)
    return "\n".join(m.render(color) for m in messages)


def render_json(messages: Sequence[Message]) -> str:
    if not messages:
        return "[]"
    text = json.dumps([m.to_dict() for m in messages], indent="\t", ensure_ascii=False)
    # Go's encoder escapes these inside strings; match it so the output is byte-for-byte istioctl's.
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_yaml(messages: Sequence[Message]) -> str:
    if not messages:
        return "[]\n"
    return yaml.safe_dump(
        [m.to_dict() for m in messages],
        default_flow_style=False,
        sort_keys=True,
        allow_unicode=True,
        width=1 << 20,
    )
