# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run meshctl for the meshlab.mesh modules.

Every module that reports on the mesh goes through this file: it finds meshctl, runs it with an argument
list (never a shell string), reads its JSON, turns its exit status into a clear failure and applies the
thresholds. The functions that take no AnsibleModule are pure, so they can be tested alone.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import json
import os

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


def run_meshctl(module, command, interpret, warn=False):
    """Run meshctl and interpret its output; the result (or the failure's) names the command.

    With warn, the lines of meshctl's stderr that deserve a user's attention become Ansible warnings.
    """
    rc, stdout, stderr = module.run_command(command, check_rc=False, environ_update=ENVIRONMENT)
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
