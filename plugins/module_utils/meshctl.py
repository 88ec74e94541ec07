# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run meshctl for the meshlab.mesh modules.

Every module that reports on or changes the mesh goes through this file: it finds meshctl, runs it with an
argument list (never a shell string), reads its JSON, turns its exit status into a clear failure, applies
the thresholds, and decides what the resource and namespace modules change (probe with a dry run, then
act only when something would change). The functions that take no AnsibleModule are pure, so they can be
tested alone.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import copy
import json
import os

from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump, yaml_dump_all, yaml_load_all

#: Where the collection's playbooks install the runtime (meshlab_prefix /opt/meshlab).
DEFAULT_VENV_BIN = "/opt/meshlab/venv/bin"
MESHCTL = "meshctl"

#: Message levels from the least to the most severe, as meshctl and istioctl name them.
LEVELS = ("Info", "Warning", "Error")

#: meshctl's exit statuses (istioctl's, from sysexits).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 64
EXIT_DATA = 65
EXIT_ISSUES = 79

#: How many messages a failure message quotes; the result always holds all of them.
QUOTED_MESSAGES = 5

#: A stable locale for meshctl's output.
ENVIRONMENT = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}

MANAGED_HOST = "the managed host"
IGNORE_UNKNOWN_HINT = "Fix them, or set ignore_unknown to skip them."


class MeshctlError(Exception):
    """A failure to report with fail_json: a message, plus result fields that explain it."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


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
    text = stdout.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MeshctlError(
            f"meshctl analyze printed output that is not JSON ({exc}): {_excerpt(text)}", stdout=stdout
        ) from None
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise MeshctlError(
            f"meshctl analyze printed JSON that is not a list of messages: {_excerpt(text)}", stdout=stdout
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


# ---------------------------------------------------------------------------------------------------------
# Exit statuses and stderr


def exit_failure(what, rc, stderr):
    """A clear message for an exit status that means meshctl could not do its work."""
    detail = _error_text(stderr)
    if rc == EXIT_USAGE:
        return f"{what} rejected its arguments (exit {rc}, incorrect usage): {detail}"
    if rc == EXIT_DATA:
        return f"{what} could not parse some files (exit {rc}): {detail} {IGNORE_UNKNOWN_HINT}"
    if rc == EXIT_ERROR:
        return f"{what} failed (exit {rc}): {detail}"
    if rc < 0:
        return f"{what} was killed by signal {-rc}: {detail}"
    return f"{what} exited with status {rc}: {detail}"


def _error_text(stderr):
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return " ".join(lines) if lines else "(nothing on stderr)"


def _excerpt(text, limit=300):
    return text if len(text) <= limit else text[:limit] + "..."


def stderr_warnings(stderr):
    """The lines of meshctl's stderr that a user should see as Ansible warnings."""
    warnings = []
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        if line.startswith(("Warning:", "Skipping file")):
            warnings.append(line.strip())
        elif line.startswith("Error(s) adding files"):
            skipped = []
            for rest in lines[index + 1 :]:
                if not rest.startswith(" "):
                    break
                skipped.append(rest.strip())
            warnings.append("some files could not be parsed and were not analyzed: " + "; ".join(skipped))
    return warnings


def _flag(value):
    return "true" if value else "false"


# ---------------------------------------------------------------------------------------------------------
# analyze


def analyze_command(meshctl, params):
    """The argument list of `meshctl analyze` for the analyze module's parameters.

    meshctl prints every level (--output-threshold Info) so that counts cover every message; the module
    applies output_threshold to the messages it returns.
    """
    command = [meshctl, "analyze", f"--use-kube={_flag(params.get('use_kube'))}", "-o", "json"]
    command += [
        "--output-threshold",
        "Info",
        "--failure-threshold",
        params.get("failure_threshold") or "Error",
    ]
    if params.get("all_namespaces"):
        command.append("--all-namespaces")
    elif params.get("namespace"):
        command += ["--namespace", params["namespace"]]
    for index, value in enumerate(params.get("suppress") or []):
        command += ["--suppress", check_suppression(value, index)]
    for name in params.get("analyzers") or []:
        command += ["--analyzer", name]
    if params.get("mesh_config_file"):
        command += ["--meshConfigFile", params["mesh_config_file"]]
    if params.get("ignore_unknown"):
        command.append("--ignore-unknown")
    files = list(params.get("files") or [])
    if files:
        command += ["--", *files]
    return command


def check_analyze_params(params, exists=os.path.exists):
    """Problems with the analyze module's parameters that meshctl would report less clearly."""
    files = params.get("files") or []
    if not files and not params.get("use_kube"):
        raise MeshctlError("files: give at least one file or directory to analyze (use_kube is false)")
    for index, path in enumerate(files):
        if not exists(path):
            raise MeshctlError(f"files[{index}]: {path} does not exist on {MANAGED_HOST}")
    mesh_config = params.get("mesh_config_file")
    if mesh_config and not exists(mesh_config):
        raise MeshctlError(f"mesh_config_file: {mesh_config} does not exist on {MANAGED_HOST}")
    if params.get("all_namespaces") and params.get("namespace"):
        raise MeshctlError("namespace and all_namespaces exclude each other: set only one of them")


def interpret_analysis(rc, stdout, stderr, params):
    """The analyze module's result from meshctl's exit status and output.

    Returns the result; raises MeshctlError (carrying the result) when the module must fail: meshctl could
    not analyze, or messages reached failure_threshold.
    """
    failure_threshold = params.get("failure_threshold") or "Error"
    output_threshold = params.get("output_threshold") or "Info"
    if rc not in (EXIT_OK, EXIT_ISSUES, EXIT_DATA):
        raise MeshctlError(exit_failure("meshctl analyze", rc, stderr), rc=rc, stderr=stderr, stdout=stdout)
    everything = parse_messages(stdout)
    messages = at_or_above(everything, output_threshold)
    result = {
        "messages": messages,
        "counts": count_by_level(everything),
        "issues": bool(messages),
        "rc": rc,
        "stderr": stderr,
    }
    reached = at_or_above(everything, failure_threshold)
    if reached or rc == EXIT_ISSUES:
        raise MeshctlError(threshold_failure(reached, failure_threshold, stderr), **result)
    if rc == EXIT_DATA:
        raise MeshctlError(exit_failure("meshctl analyze", rc, stderr), **result)
    return result


def threshold_failure(reached, threshold, stderr):
    """Why the analysis fails: how many messages reached the threshold, quoting the first ones."""
    if not reached:  # meshctl said so without printing the messages
        return (
            f"meshctl analyze found issues at or above {threshold} (failure_threshold): {_error_text(stderr)}"
        )
    noun = "message" if len(reached) == 1 else "messages"
    return (
        f"meshctl analyze found {len(reached)} {noun} at or above {threshold} (failure_threshold):\n"
        + describe_messages(reached)
    )


# ---------------------------------------------------------------------------------------------------------
# version


def version_command(meshctl, params):
    """The argument list of `meshctl version` for the version module's parameters."""
    remote = params.get("remote", True)
    command = [meshctl, "version", "-o", "json", f"--remote={_flag(remote)}"]
    if remote and params.get("control_plane"):
        command += ["--control-plane", params["control_plane"]]
    return command


def parse_version_report(stdout):
    """The JSON document `meshctl version -o json` printed."""
    text = stdout.strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MeshctlError(
            f"meshctl version printed output that is not JSON ({exc}): {_excerpt(text)}", stdout=stdout
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("clientVersion"), dict):
        raise MeshctlError(
            f"meshctl version printed JSON without a clientVersion: {_excerpt(text)}", stdout=stdout
        )
    return data


def summarize_versions(report):
    """client_version, control_plane_versions, data_plane_versions and skew from a version report."""
    client = report["clientVersion"].get("version", "")
    control_plane = [
        {
            "component": entry.get("Component", ""),
            "revision": entry.get("Revision", ""),
            "version": (entry.get("Info") or {}).get("version", ""),
        }
        for entry in report.get("meshVersion") or []
    ]
    proxy_counts = {}
    for proxy in report.get("dataPlaneVersion") or []:
        proxy_version = proxy.get("IstioVersion", "")
        proxy_counts[proxy_version] = proxy_counts.get(proxy_version, 0) + 1
    data_plane = [{"version": v, "count": proxy_counts[v]} for v in sorted(proxy_counts)]
    versions = {client} | {c["version"] for c in control_plane} | {d["version"] for d in data_plane}
    return {
        "client_version": client,
        "control_plane_present": "meshVersion" in report,
        "control_plane_versions": control_plane,
        "data_plane_versions": data_plane,
        "skew": len(versions) > 1,
    }


def describe_versions(summary):
    """Every version in a summary, on one line."""
    parts = [f"meshctl {summary['client_version']}"]
    for component in summary["control_plane_versions"]:
        parts.append(f"{component['component'] or 'control plane'} {component['version']}")
    for proxies in summary["data_plane_versions"]:
        noun = "proxy" if proxies["count"] == 1 else "proxies"
        parts.append(f"{proxies['count']} {noun} at {proxies['version']}")
    return ", ".join(parts)


def version_problems(summary, expected_version=None, fail_on_skew=False):
    """Why the version module must fail, as a list of sentences (empty: it must not)."""
    problems = []
    if expected_version:
        differing = []
        if summary["client_version"] != expected_version:
            differing.append(f"meshctl is {summary['client_version']}")
        for component in summary["control_plane_versions"]:
            if component["version"] != expected_version:
                differing.append(f"{component['component'] or 'control plane'} is {component['version']}")
        if differing:
            problems.append(f"expected_version is {expected_version} but {', '.join(differing)}")
    if fail_on_skew and summary["skew"]:
        problems.append(f"versions differ (fail_on_skew): {describe_versions(summary)}")
    return problems


def interpret_version(rc, stdout, stderr, params):
    """The version module's result; raises MeshctlError when meshctl failed or a requested check failed."""
    if rc != EXIT_OK:
        raise MeshctlError(exit_failure("meshctl version", rc, stderr), rc=rc, stderr=stderr, stdout=stdout)
    report = parse_version_report(stdout)
    result = summarize_versions(report)
    result.update(raw=report, rc=rc, stderr=stderr)
    problems = version_problems(result, params.get("expected_version"), params.get("fail_on_skew"))
    if problems:
        raise MeshctlError("; ".join(problems), **result)
    return result


# ---------------------------------------------------------------------------------------------------------
# The config API: resource and namespace

#: meshctl's environment variable for the admin token: the token never appears on a command line.
TOKEN_ENVIRONMENT = "MESHCTL_TOKEN"
#: Metadata meshd sets; left out of diffs, which show what a user wrote.
SERVER_METADATA = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
UNCHANGED = "unchanged"
DELETED = "deleted"
ABSENT = "absent"
NAMESPACE_KIND = "Namespace"


def config_api_flags(params):
    """meshctl's connection flags for the config API, from the modules' options of the same names."""
    flags = []
    for option, flag in (
        ("control_plane", "--control-plane"),
        ("ca_file", "--ca-file"),
        ("data_dir", "--data-dir"),
    ):
        if params.get(option):
            flags += [flag, params[option]]
    return flags


def config_api_environment(params):
    """meshctl's environment: a stable locale, and the admin token when one is given."""
    environment = dict(ENVIRONMENT)
    if params.get("token"):
        environment[TOKEN_ENVIRONMENT] = params["token"]
    return environment


def definition_text(definition):
    """The YAML text of `definition`: a string as it is, a mapping or a list of mappings as documents."""
    if isinstance(definition, str):
        if not definition.strip():
            raise MeshctlError("definition: is empty; give one or more resources")
        return definition
    documents = definition if isinstance(definition, list) else [definition]
    if not documents:
        raise MeshctlError("definition: is an empty list; give one or more resources")
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            where = f"definition[{index}]" if isinstance(definition, list) else "definition"
            raise MeshctlError(
                f"{where}: is a {type(document).__name__}, not a resource (a mapping with apiVersion, kind "
                "and metadata)"
            )
    if HAS_YAML:
        return yaml_dump_all(documents, sort_keys=False, default_flow_style=False)
    return "\n---\n".join(json.dumps(document) for document in documents) + "\n"


def resource_input(params, isfile=os.path.isfile, exists=os.path.exists):
    """(meshctl's -f arguments, text for its stdin or None) for the resource module's src or definition."""
    src = params.get("src")
    if src:
        if not exists(src):
            raise MeshctlError(f"src: {src} does not exist on {MANAGED_HOST}")
        if not isfile(src):
            raise MeshctlError(f"src: {src} is not a file on {MANAGED_HOST}; give one YAML file")
        return ["-f", src], None
    if params.get("definition") is None:
        raise MeshctlError("give src (a file on the managed host) or definition (the resources)")
    return ["-f", "-"], definition_text(params["definition"])


def resource_command(meshctl, verb, params, input_args, dry_run):
    """`meshctl apply` or `meshctl delete` of the input, with JSON results, as a dry run or for real."""
    command = [meshctl, verb, *input_args, "-o", "json"]
    if verb == "delete":
        command.append("--ignore-not-found")
    if dry_run:
        command.append("--dry-run")
    if params.get("namespace"):
        command += ["--namespace", params["namespace"]]
    return command + config_api_flags(params)


def get_command(meshctl, params, kind, group, namespace):
    """`meshctl get` of every resource of one kind in one namespace (every namespace for Namespaces)."""
    command = [meshctl, "get", f"{kind}.{group}" if group else kind, "-o", "json"]
    if kind != NAMESPACE_KIND:
        command += ["--namespace", namespace]
    return command + config_api_flags(params)


def describe_problem(problem, stdin="definition"):
    """One of meshd's apply errors on one line: where, which resource, the field path and the message.

    Text meshctl read from its stdin (`-`) is named `stdin` (the resource module's definition); with
    stdin=None, text the module wrote itself, the location is left out.
    """
    where = problem.get("source") or "-"
    parts = []
    if where != "-" or stdin is not None:
        where = stdin if where == "-" else where
        parts.append(f"{where}:{problem['line']}" if problem.get("line") else where)
    if problem.get("resource"):
        parts.append(problem["resource"])
    message = problem.get("message", "")
    path = problem.get("path")
    if path and not message.startswith(path):
        message = f"{path}: {message}"
    parts.append(message)
    return ": ".join(parts)


def _json_document(stdout, what):
    text = stdout.strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MeshctlError(
            f"{what} printed output that is not JSON ({exc}): {_excerpt(text)}", stdout=stdout
        ) from None
    if not isinstance(data, dict):
        raise MeshctlError(f"{what} printed JSON that is not an object: {_excerpt(text)}", stdout=stdout)
    return data


def interpret_resources(verb, subject=None):
    """The interpreter of `meshctl apply|delete -o json`: its per-resource results, or a MeshctlError.

    `subject` names the input in a refusal (default: src or definition, whichever the module was given);
    with a subject, the input is the module's own text and its location is left out.
    """
    what = f"meshctl {verb}"

    def interpret(rc, stdout, stderr, params):
        if rc == EXIT_DATA and stdout.strip().startswith("{"):
            errors = _json_document(stdout, what).get("errors") or []
            stdin = None if subject else "definition"
            lines = [describe_problem(problem, stdin) for problem in errors] or [_error_text(stderr)]
            source = subject or ("src" if params.get("src") else "definition")
            raise MeshctlError(
                f"{what} refused the {source}, nothing was changed:\n" + "\n".join(lines),
                errors=errors,
                rc=rc,
                stderr=stderr,
            )
        if rc != EXIT_OK:
            raise MeshctlError(exit_failure(what, rc, stderr), rc=rc, stderr=stderr, stdout=stdout)
        data = _json_document(stdout, what)
        results = data.get("results")
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            raise MeshctlError(f"{what} printed JSON without a list of results: {_excerpt(stdout.strip())}")
        return {"results": results, "warnings": data.get("warnings") or [], "stderr": stderr}

    return interpret


def interpret_listing(rc, stdout, stderr, params):
    """The items `meshctl get KIND -o json` printed; none when it found none (nothing on stdout)."""
    if rc != EXIT_OK:
        raise MeshctlError(exit_failure("meshctl get", rc, stderr), rc=rc, stderr=stderr, stdout=stdout)
    if not stdout.strip():
        return {"items": []}
    items = _json_document(stdout, "meshctl get").get("items")
    if not isinstance(items, list):
        raise MeshctlError(f"meshctl get printed JSON without items: {_excerpt(stdout.strip())}")
    return {"items": items}


def resource_key(kind, namespace, name):
    """How results, stored documents and desired documents are matched: (kind, namespace, name)."""
    return (kind, "" if kind == NAMESPACE_KIND else namespace or "", name)


def document_key(document):
    metadata = document.get("metadata") or {}
    return resource_key(document.get("kind"), metadata.get("namespace"), metadata.get("name"))


def result_key(result):
    return resource_key(result.get("kind"), result.get("namespace"), result.get("name"))


def comparable(document):
    """A document as a user wrote it: without the metadata meshd sets and without status."""
    if document is None:
        return None
    found = copy.deepcopy(document)
    found.pop("status", None)
    metadata = found.get("metadata")
    if isinstance(metadata, dict):
        for key in SERVER_METADATA:
            metadata.pop(key, None)
    return found


def to_yaml(document):
    """A document as YAML for a diff (JSON when PyYAML is missing on the managed host); absent is ''."""
    if document is None:
        return ""
    if HAS_YAML:
        return yaml_dump(document, sort_keys=False, default_flow_style=False)
    return json.dumps(document, indent=2) + "\n"


def predicted_documents(text, results, default_namespace):
    """What meshd will store for each result, from the applied text: the check-mode `after` of a diff.

    Needs PyYAML on the managed host; without it, no prediction (an empty mapping).
    """
    if not HAS_YAML:
        return {}
    predicted = {}
    wanted = {result_key(r): r for r in results}
    for document in yaml_load_all(text):
        if not isinstance(document, dict):
            continue
        metadata = document.get("metadata") or {}
        kind = document.get("kind")
        namespace = metadata.get("namespace") or default_namespace or "default"
        key = resource_key(kind, namespace, metadata.get("name"))
        if key not in wanted:
            continue
        stored = comparable(document)
        if kind != NAMESPACE_KIND:
            stored.setdefault("metadata", {})["namespace"] = key[1]
        predicted[key] = stored
    return predicted


def resource_diff(changed_results, before, after):
    """Ansible's diff, one entry per changed resource: YAML before and after, headed by the resource."""
    entries = []
    for result in changed_results:
        key = result_key(result)
        label = describe_result(result)
        entries.append(
            {
                "before_header": label,
                "after_header": label,
                "before": to_yaml(comparable(before.get(key))),
                "after": to_yaml(comparable(after.get(key))),
            }
        )
    return entries


def describe_result(result):
    """`DestinationRule default/reviews` (`Namespace prod`), as meshctl names resources in messages."""
    if result.get("kind") == NAMESPACE_KIND or not result.get("namespace"):
        return f"{result.get('kind')} {result.get('name')}"
    return f"{result.get('kind')} {result.get('namespace')}/{result.get('name')}"


def resource_entries(results):
    """The module's `resources`: meshctl's results, without the key names that mean nothing to a user."""
    return [
        {
            "kind": r.get("kind"),
            "api_group": r.get("group", ""),
            "namespace": r.get("namespace", ""),
            "name": r.get("name"),
            "result": r.get("result"),
        }
        for r in results
    ]


def changed_results(results):
    return [r for r in results if r.get("result") not in (UNCHANGED, ABSENT)]


def namespace_changes(current_labels, labels):
    """The label changes that make `current_labels` what `labels` asks: {key: value or None to remove}."""
    changes = {}
    for key, value in (labels or {}).items():
        if value is None:
            if key in current_labels:
                changes[key] = None
        elif current_labels.get(key) != label_text(value):
            changes[key] = label_text(value)
    return changes


def label_text(value):
    """A label value as text: YAML's true/false as Kubernetes writes them, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def label_arguments(changes):
    """`meshctl label`'s arguments for label changes: key=value sets, key- removes."""
    return [f"{key}-" if value is None else f"{key}={value}" for key, value in sorted(changes.items())]


def labelled(current_labels, changes):
    labels = dict(current_labels)
    for key, value in changes.items():
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    return labels


def namespace_document(name, labels):
    """A Namespace as meshctl shows it (without server metadata); None for a namespace that is not there."""
    if labels is None:
        return None
    metadata = {"name": name}
    if labels:
        metadata["labels"] = dict(sorted(labels.items()))
    return {"apiVersion": "v1", "kind": NAMESPACE_KIND, "metadata": metadata}


def check_labels(labels):
    """Label keys and values must be text; a MeshctlError names the label otherwise."""
    for key, value in (labels or {}).items():
        if value is not None and not isinstance(value, (str, int, float, bool)):
            raise MeshctlError(
                f"labels.{key}: is a {type(value).__name__}; a label's value is a string (null removes it)"
            )
    return labels


# ---------------------------------------------------------------------------------------------------------
# Running meshctl from a module


def find_meshctl(module, meshctl_path=None):
    """The meshctl to run: meshctl_path, else meshctl on PATH, else the default virtualenv's."""
    if meshctl_path and os.sep in meshctl_path:
        if os.path.isfile(meshctl_path) and os.access(meshctl_path, os.X_OK):
            return meshctl_path
        raise MeshctlError(f"meshctl_path: {meshctl_path} is not an executable file on {MANAGED_HOST}")
    name = meshctl_path or MESHCTL
    found = module.get_bin_path(name)
    if found:
        return found
    beside = os.path.join(DEFAULT_VENV_BIN, name)
    if os.path.isfile(beside) and os.access(beside, os.X_OK):
        return beside
    raise MeshctlError(
        f"{name} was not found on PATH nor in {DEFAULT_VENV_BIN} on {MANAGED_HOST}: "
        "install the runtime (playbooks/site.yml) or set meshctl_path"
    )


def run_meshctl(module, command, interpret, warn=False, data=None, environment=None):
    """Run meshctl and interpret its output; the result (or the failure's) names the command.

    With warn, the lines of meshctl's stderr that deserve a user's attention become Ansible warnings.
    `data` goes to meshctl's stdin; `environment` replaces the stable-locale environment.
    """
    rc, stdout, stderr = module.run_command(
        command, check_rc=False, environ_update=environment or ENVIRONMENT, data=data
    )
    if warn:
        for warning in stderr_warnings(stderr):
            module.warn(warning)
    try:
        result = interpret(rc, stdout, stderr, module.params)
    except MeshctlError as exc:
        exc.result["command"] = command
        raise
    result["command"] = command
    return result


def analyze(module):
    """Check the analyze module's parameters, run meshctl analyze and return the module's result."""
    params = module.params
    check_analyze_params(params)
    command = analyze_command(find_meshctl(module, params.get("meshctl_path")), params)
    return run_meshctl(module, command, interpret_analysis, warn=True)


def version(module):
    """Run meshctl version for the version module and return the module's result."""
    params = module.params
    command = version_command(find_meshctl(module, params.get("meshctl_path")), params)
    return run_meshctl(module, command, interpret_version)


class ConfigApi:
    """meshctl's config API commands for one module run: where meshctl is, how it connects, what ran."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.meshctl = find_meshctl(module, self.params.get("meshctl_path"))
        self.environment = config_api_environment(self.params)
        self.commands = []

    def run(self, command, interpret, data=None):
        self.commands.append(command)
        try:
            return run_meshctl(self.module, command, interpret, data=data, environment=self.environment)
        except MeshctlError as exc:
            exc.result["commands"] = self.commands
            raise

    def stored(self, results):
        """The stored documents of the resources in `results`, by key: one `meshctl get` per kind and
        namespace."""
        wanted = {result_key(r) for r in results}
        groups = []
        for result in results:
            group = (result.get("kind"), result.get("group", ""), result.get("namespace", ""))
            if group not in groups:
                groups.append(group)
        found = {}
        for kind, group, namespace in groups:
            listing = self.run(
                get_command(self.meshctl, self.params, kind, group, namespace), interpret_listing
            )
            for item in listing["items"]:
                key = document_key(item)
                if key in wanted:
                    found[key] = item
        return found


def _probe_then_act(module, verb):
    """Dry-run `meshctl <verb>`, then run it for real when something would change (never in check mode).

    Returns the API, the inline input, the dry run's output, the final per-resource results, the results that
    change something, and (with --diff) the stored documents before the change.
    """
    api = ConfigApi(module)
    input_args, data = resource_input(module.params)

    def run(dry_run):
        command = resource_command(api.meshctl, verb, module.params, input_args, dry_run)
        return api.run(command, interpret_resources(verb), data)

    probe = run(True)
    results = probe["results"]
    changing = changed_results(results)
    before = api.stored(changing) if module._diff and changing else {}
    if changing and not module.check_mode:
        results = run(False)["results"]
        changing = changed_results(results)
    return api, data, probe, results, changing, before


def apply_resources(module):
    """The resource module with state=present: dry run, then apply when something would change."""
    api, data, probe, results, changing, before = _probe_then_act(module, "apply")
    after = {}
    if module._diff and changing:
        if module.check_mode:
            text = data if data is not None else _read_text(module.params["src"])
            after = predicted_documents(text, changing, module.params.get("namespace"))
        else:
            after = api.stored(changing)
    return _resource_result(module, api, results, changing, before, after, probe["warnings"])


def delete_resources(module):
    """The resource module with state=absent: find which exist (dry run), then delete those."""
    api, _data, _probe, results, changing, before = _probe_then_act(module, "delete")
    return _resource_result(module, api, results, changing, before, {}, [])


def _read_text(path):
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise MeshctlError(f"src: {path} cannot be read on {MANAGED_HOST}: {exc}") from None


def _resource_result(module, api, results, changing, before, after, warnings):
    for warning in warnings:
        module.warn(describe_problem(warning))
    result = {
        "changed": bool(changing),
        "resources": resource_entries(results),
        "commands": api.commands,
    }
    if module._diff and changing:
        result["diff"] = resource_diff(changing, before, after)
    return result


def manage_resources(module):
    """The resource module's body: apply or delete, by state."""
    if module.params.get("state") == "absent":
        return delete_resources(module)
    return apply_resources(module)


def manage_namespace(module):
    """The namespace module's body: create, label or delete one namespace, changing only what differs."""
    api = ConfigApi(module)
    params = module.params
    name = params["name"]
    labels = check_labels(params.get("labels"))
    listing = api.run(get_command(api.meshctl, params, NAMESPACE_KIND, "", ""), interpret_listing)
    current = None
    for item in listing["items"]:
        if (item.get("metadata") or {}).get("name") == name:
            current = dict((item.get("metadata") or {}).get("labels") or {})
    if params.get("state") == "absent":
        outcome, after = (ABSENT, None) if current is None else (DELETED, None)
        if outcome == DELETED and not module.check_mode:
            api.run(
                [api.meshctl, "delete", "namespace", name, *config_api_flags(params)],
                _interpret_plain("delete"),
            )
    else:
        changes = namespace_changes(current or {}, labels)
        after = labelled(current or {}, changes)
        outcome = "created" if current is None else ("configured" if changes else UNCHANGED)
        if outcome != UNCHANGED:
            # A dry run checks the labels (meshd's messages name each one) in check mode too.
            apply = [api.meshctl, "apply", "-f", "-", "-o", "json", *config_api_flags(params)]
            document = json.dumps(namespace_document(name, after))
            api.run([*apply, "--dry-run"], interpret_resources("apply", "namespace"), data=document)
            if not module.check_mode and current is None:
                api.run(apply, interpret_resources("apply", "namespace"), data=document)
            elif not module.check_mode:
                # `meshctl label` changes only these keys: labels others set meanwhile are kept.
                command = [api.meshctl, "label", "namespace", name, *label_arguments(changes), "--overwrite"]
                api.run(command + config_api_flags(params), _interpret_plain("label"))
    changed = outcome not in (UNCHANGED, ABSENT)
    result = {
        "changed": changed,
        "name": name,
        "result": outcome,
        "labels": after,
        "commands": api.commands,
    }
    if module._diff and changed:
        result["diff"] = {
            "before_header": f"Namespace {name}",
            "after_header": f"Namespace {name}",
            "before": to_yaml(namespace_document(name, current)),
            "after": to_yaml(namespace_document(name, after)),
        }
    return result


def _interpret_plain(verb):
    """The interpreter of a meshctl command whose output is text: its exit status only."""
    what = f"meshctl {verb}"

    def interpret(rc, stdout, stderr, params):
        if rc != EXIT_OK:
            raise MeshctlError(exit_failure(what, rc, stderr), rc=rc, stderr=stderr, stdout=stdout)
        return {"stdout": stdout, "stderr": stderr}

    return interpret


def finish_changes(module, body):
    """Exit the module with body(module)'s result (which says whether it changed), or fail with its error."""
    try:
        result = body(module)
    except MeshctlError as exc:
        module.fail_json(msg=exc.msg, changed=False, **exc.result)
    else:
        module.exit_json(**result)


def run_resource(module):
    """The resource module's one call."""
    finish_changes(module, manage_resources)


def run_namespace(module):
    """The namespace module's one call."""
    finish_changes(module, manage_namespace)


def finish(module, body):
    """Exit the module with body(module)'s result, or fail with its MeshctlError; never changed."""
    try:
        result = body(module)
    except MeshctlError as exc:
        module.fail_json(msg=exc.msg, changed=False, **exc.result)
    else:
        module.exit_json(changed=False, **result)


def run_analyze(module):
    """The analyze module's one call."""
    finish(module, analyze)


def run_version(module):
    """The version module's one call."""
    finish(module, version)
