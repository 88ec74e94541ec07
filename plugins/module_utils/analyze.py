# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The analyze module's meshctl command, its parameter checks, and what its output means for the task.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import os

from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import (
    config_api_environment,
    config_api_flags,
)
from ansible_collections.meshlab.mesh.plugins.module_utils.messages import (
    at_or_above,
    check_suppression,
    count_by_level,
    describe_messages,
    parse_messages,
)
from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    EXIT_DATA,
    EXIT_ISSUES,
    EXIT_OK,
    MANAGED_HOST,
    MeshctlError,
    _error_text,
    _flag,
    exit_failure,
    find_meshctl,
    finish,
    run_meshctl,
)

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
    if params.get("use_kube"):
        command += config_api_flags(params)
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


def analyze(module):
    """Check the analyze module's parameters, run meshctl analyze and return the module's result."""
    params = module.params
    check_analyze_params(params)
    command = analyze_command(find_meshctl(module, params.get("meshctl_path")), params)
    environment = config_api_environment(params) if params.get("use_kube") else None
    return run_meshctl(module, command, interpret_analysis, warn=True, environment=environment)


def run_analyze(module):
    """The analyze module's one call."""
    finish(module, analyze)
