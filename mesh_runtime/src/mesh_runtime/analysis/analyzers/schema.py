"""schema.ValidationAnalyzer.<Kind>: schema errors (IST0106) and warnings (IST0133) for each Istio kind.

One analyzer per modelled kind runs `validation.validate` on every resource of that kind. Errors become
SchemaValidationError, warnings SchemaWarning, except the VirtualService route reachability findings, which
Istio reports as VirtualServiceUnreachableRule (IST0130) and VirtualServiceIneffectiveMatch (IST0131).
Each message points at the line of the field it is about (or of the nearest field around it).
"""

from __future__ import annotations

from ...resources import Resource
from ...resources.kinds import MODELLED_KINDS, Kind
from ...validation import Finding, validate
from ..context import AnalysisContext
from ..message_catalogue import by_name
from ..messages import Message
from .base import AnalyzeFunction, Analyzer, analyzer

SCHEMA_VALIDATION_ERROR = by_name("SchemaValidationError")
SCHEMA_WARNING = by_name("SchemaWarning")


def analyzer_name(kind: Kind) -> str:
    return f"schema.ValidationAnalyzer.{kind.kind}"


def _analyze_kind(kind: Kind) -> AnalyzeFunction:
    def analyze(context: AnalysisContext) -> None:
        for resource in context.each(kind):
            for finding in validate(resource):
                context.report(message_for(resource, finding))

    analyze.__name__ = f"validate_{kind.kind.lower()}"
    return analyze


def message_for(resource: Resource, finding: Finding) -> Message:
    """The analysis message for one finding, pointing at the line of its field."""
    line_key = line_key_for(resource, finding)
    if finding.message_type is not None:
        return by_name(finding.message_type)(resource, *finding.args, field_path=line_key)
    message_type = SCHEMA_VALIDATION_ERROR if finding.is_error else SCHEMA_WARNING
    return message_type(resource, finding.message, field_path=line_key)


def line_key_for(resource: Resource, finding: Finding) -> str | None:
    """The finding's line key when the field is in the document; else the first field inside it, or failing
    that around it (a missing field shows at its parent), so the line is as close as the file allows."""
    if resource.source is None or not finding.path:
        return finding.line_key
    lines = resource.source.field_lines
    path = finding.path
    while path:
        key = "{." + path + "}"
        if key in lines:
            return key
        inside = [k for k in lines if k.startswith(key[:-1]) and k[len(key) - 1] in ".["]
        if inside:
            return min(inside, key=lambda k: lines[k])
        path = _parent(path)
    return finding.line_key


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


#: One analyzer per modelled kind.
SCHEMA_ANALYZERS: tuple[Analyzer, ...] = tuple(
    analyzer(
        analyzer_name(kind),
        f"Runs schema validation as an analyzer on '{kind.kind}' resources",
        (kind,),
    )(_analyze_kind(kind))
    for kind in MODELLED_KINDS
)
