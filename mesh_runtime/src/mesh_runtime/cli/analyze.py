"""`meshctl analyze`: run Istio's analyzers over files (or the live mesh) and report as istioctl does."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import IO

from .. import ISTIO_API_VERSION
from ..analysis import (
    AnalysisRequest,
    Level,
    Suppression,
    SuppressionError,
    all_analyzers,
    analyze,
    parse_level,
)
from ..analysis.formatting import FORMATS, LOG, render
from ..analysis.meshconfig import MeshConfigError, load_mesh_config
from ..analysis.standins import ingress_gateway_standins
from ..command.errors import EXIT_DATA, EXIT_ISSUES, EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from ..resources import InputNotFoundError, LoadResult, Resource, load_paths
from ..resources.loader import RECOGNIZED_EXTENSIONS
from .connection import add_connection_flags
from .live import live_resources

DOCS_URL = f"https://istio.io/v{ISTIO_API_VERSION}/docs/reference/config/analysis"

DESCRIPTION = """\
Analyze mesh configuration and print validation messages, as `istioctl analyze` does.

Files, directories (read recursively: .yaml, .yml and .json) and `-` (stdin) are analyzed. With
--use-kube=false only the files are analyzed: every kind in them is read (Services, Pods and Namespaces
included) and a stand-in ingress gateway Pod and Service are added, as in Istio's own analyzer tests.
"""

EPILOG = f"""\
exit status:
  0   no issues at or above --failure-threshold
  1   an error (a path that does not exist, an unreadable --meshConfigFile, no control plane)
  64  incorrect usage (an unknown flag or value)
  65  some files could not be parsed (unless --ignore-unknown)
  79  issues found at or above --failure-threshold (with -o json|yaml too, unlike istioctl)

examples:
  # Analyze Bookinfo's gateway and services before deploying them
  meshctl analyze --use-kube=false bookinfo-gateway.yaml bookinfo.yaml

  # Analyze a directory, every namespace, as JSON
  meshctl analyze --use-kube=false -A -o json manifests/

  # Suppress IST0103 for every pod in namespace testing
  meshctl analyze --use-kube=false -S 'IST0103=Pod testing/*' manifests/

Message causes and fixes: {DOCS_URL}
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "analyze",
        help="Analyze mesh configuration and print validation messages",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="*", metavar="FILE|DIR|-", help="files, directories or - for stdin")
    parser.set_defaults(intermixed="files")
    add_boolean(
        parser,
        "-k",
        "--use-kube",
        default=True,
        help="analyze the live mesh as well as the files (default true)",
    )
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="report messages for all namespaces"
    )
    parser.add_argument(
        "-n", "--namespace", default=None, help="the namespace to report messages for (default)"
    )
    parser.add_argument(
        "-i",
        "--istioNamespace",
        default="istio-system",
        help="the mesh's root namespace (default istio-system)",
    )
    parser.add_argument(
        "--failure-threshold",
        default="Error",
        metavar="LEVEL",
        help="the lowest level that makes the exit status non-zero: Info, Warning or Error (default Error)",
    )
    parser.add_argument(
        "--output-threshold",
        default="Info",
        metavar="LEVEL",
        help="the lowest level printed: Info, Warning or Error (default Info)",
    )
    parser.add_argument("-o", "--output", default=LOG, help="output format: log, json or yaml (default log)")
    parser.add_argument(
        "-S",
        "--suppress",
        action="append",
        default=[],
        metavar="CODE=PATTERN",
        help="suppress messages with CODE for resources matching PATTERN ('Kind ns/name', * matches "
        "anything); repeatable, e.g. -S 'IST0103=Pod testing/*'",
    )
    parser.add_argument(
        "--analyzer",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these analyzers (repeatable or comma-separated; see --list-analyzers)",
    )
    parser.add_argument("-L", "--list-analyzers", action="store_true", help="list the analyzers and exit")
    parser.add_argument(
        "--meshConfigFile",
        action="append",
        default=[],
        metavar="FILE",
        help="mesh config (MeshConfig YAML) to use",
    )
    parser.add_argument(
        "--ignore-unknown",
        action="store_true",
        help="exit 0 rather than 65 when some files could not be parsed",
    )
    add_boolean(parser, "--color", default=_default_color(), help="color the level of each message")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print which files and analyzers were used"
    )
    parser.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="accepted for compatibility: directories are always recursive",
    )
    parser.add_argument("--timeout", default="30s", help="accepted for compatibility with istioctl")
    add_connection_flags(parser)
    parser.set_defaults(handler=run)


def _default_color() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM", "").lower() != "dumb"


def run(args: argparse.Namespace, stdin: IO[str], stdout: IO[str], stderr: IO[str]) -> int:
    output = str(args.output).lower()
    if output not in FORMATS:
        raise CommandError(f"invalid output format {args.output!r}: use log, json or yaml", EXIT_USAGE)
    failure_threshold = _level(args.failure_threshold, "--failure-threshold")
    output_threshold = _level(args.output_threshold, "--output-threshold")
    if args.list_analyzers:
        for analyzer in all_analyzers():
            stdout.write(f"* {analyzer.name}:\n    {analyzer.description}\n")
        return 0
    suppressions = _suppressions(args.suppress, stderr)
    live: list[Resource] = []
    if args.use_kube:
        try:
            live = live_resources(args)
        except CommandError as exc:
            raise CommandError(f"{exc}; pass --use-kube=false to analyze files only", exc.code) from exc
    elif not args.files:
        raise CommandError("no files to analyze: give files, directories or - (stdin)", EXIT_USAGE)
    try:
        mesh_config = load_mesh_config(args.meshConfigFile)
    except MeshConfigError as exc:
        raise CommandError(str(exc)) from exc
    mesh_config = mesh_config.merged(
        {"rootNamespace": mesh_config.raw.get("rootNamespace", args.istioNamespace)}
    )
    if "-" in args.files and stdin.isatty() and output == LOG:
        stdout.write("Reading from stdin:\n")
    try:
        loaded = load_paths(args.files, stdin)
    except InputNotFoundError as exc:
        raise CommandError(f"{exc}: no such file or directory") from exc
    for skipped in loaded.skipped_files:
        stderr.write(
            f"Skipping file {skipped}, recognized file extensions are: [{' '.join(RECOGNIZED_EXTENSIONS)}]\n"
        )
    if loaded.errors:
        stderr.write("Error(s) adding files:\n")
        for error in loaded.errors:
            stderr.write(f"  {error} (skipped)\n")

    namespace = None if args.all_namespaces else (args.namespace or "default")
    resources = live + _place_in_namespace(loaded, "" if namespace is None else namespace)
    resources = _last_definition_wins(resources, stderr if args.verbose else None)
    if not args.use_kube:
        resources += ingress_gateway_standins(mesh_config)
    analyzers = [name.strip() for value in args.analyzer for name in value.split(",") if name.strip()]
    _check_analyzer_names(analyzers, stderr)
    if args.verbose:
        _describe(loaded, analyzers, stderr)
    messages = analyze(
        AnalysisRequest(resources, mesh_config, analyzers, namespace=namespace, suppressions=suppressions)
    )

    shown = [m for m in messages if m.level.at_least(output_threshold)]
    stdout.write(render(shown, output, color=args.color and output == LOG) + "\n")
    target = "all namespaces" if namespace is None else f"namespace: {namespace}"
    if not shown:
        stderr.write(_no_issues_line(args.files, target, len({e.path for e in loaded.errors})))
    if any(m.level.at_least(failure_threshold) for m in messages):
        raise CommandError(
            f"Analyzers found issues when analyzing {target}.\n"
            f"See {DOCS_URL} for more information about causes and resolutions.",
            EXIT_ISSUES,
        )
    if loaded.errors and not args.ignore_unknown:
        raise CommandError("Some files couldn't be parsed.", EXIT_DATA)
    return 0


def _level(text: str, flag: str) -> Level:
    try:
        return parse_level(text)
    except ValueError as exc:
        raise CommandError(f"{flag}: {exc}", EXIT_USAGE) from exc


def _suppressions(values: Sequence[str], stderr: IO[str]) -> list[Suppression]:
    result = []
    for value in values:
        try:
            suppression = Suppression.parse(value)
        except SuppressionError as exc:
            raise CommandError(f"--suppress: {exc}", EXIT_USAGE) from exc
        if not suppression.known_code:
            stderr.write(
                f"Warning: Supplied message code '{suppression.code}' is an unknown message code "
                "and will not have any effect.\n"
            )
        result.append(suppression)
    return result


def _check_analyzer_names(names: Sequence[str], stderr: IO[str]) -> None:
    known = {a.name for a in all_analyzers()}
    for name in names:
        if name not in known:
            stderr.write(f"Warning: unknown analyzer {name!r}; see 'meshctl analyze --list-analyzers'\n")


def _place_in_namespace(loaded: LoadResult, namespace: str) -> list[Resource]:
    """Give resources without a namespace the selected one (none under -A), as kubectl apply would."""
    return [
        r.with_namespace(namespace) if r.kind.namespaced and not r.namespace else r for r in loaded.resources
    ]


def _last_definition_wins(resources: list[Resource], notes: IO[str] | None) -> list[Resource]:
    """Keep the last of several definitions of one resource, as applying the files in order would.

    istioctl refuses such input ("item already exists", istio/istio#36160); analyzing a directory of
    alternatives (Bookinfo's networking samples) is common, so meshctl analyzes the final state instead.
    """
    latest: dict[object, Resource] = {}
    for resource in resources:
        previous = latest.pop(resource.key, None)
        if previous is not None and notes is not None and previous.source and resource.source:
            notes.write(
                f"note: {resource.friendly_name} is defined in {previous.source.reference()} and "
                f"{resource.source.reference()}; analyzing the last one\n"
            )
        latest[resource.key] = resource
    return list(latest.values())


def _describe(loaded: LoadResult, analyzers: Sequence[str], stderr: IO[str]) -> None:
    stderr.write(f"Analyzed {len(loaded.resources)} resources from {len(loaded.files)} files\n")
    for resource in loaded.ignored:
        where = resource.source.reference() if resource.source else ""
        stderr.write(f"Not analyzed (kind unknown to the mesh): {resource.friendly_name} {where}\n")
    stderr.write("Executed analyzers:\n")
    names = set(analyzers)
    for analyzer in all_analyzers():
        if not names or analyzer.name in names:
            stderr.write(f"\t {analyzer.name}\n")


def _no_issues_line(files: Sequence[str], target: str, unparsed: int) -> str:
    if unparsed:
        plural = "file" if unparsed == 1 else "files"
        what = files[0] if len(files) == 1 else target
        return (
            f"No validation issues found when analyzing {what} "
            f"(but {unparsed} {plural} could not be parsed).\n"
        )
    if len(files) > 1:
        return "\u2714 No validation issues found when analyzing:\n" + "".join(f"  - {f}\n" for f in files)
    return f"\u2714 No validation issues found when analyzing {files[0] if files else target}.\n"
