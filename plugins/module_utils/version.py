# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The version module's meshctl command and its report: versions by component, skew, what to fail on.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    EXIT_OK,
    MeshctlError,
    _excerpt,
    _flag,
    exit_failure,
    find_meshctl,
    finish,
    json_output,
    run_meshctl,
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
    data = json_output(stdout, "meshctl version", dict, "an object")
    if not isinstance(data.get("clientVersion"), dict):
        raise MeshctlError(
            f"meshctl version printed JSON without a clientVersion: {_excerpt(stdout.strip())}", stdout=stdout
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
        revision = component["revision"]
        name = (component["component"] or "control plane") + (
            f" (revision {revision})" if revision and revision != "default" else ""
        )
        parts.append(f"{name} {component['version']}")
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


def version(module):
    """Run meshctl version for the version module and return the module's result."""
    params = module.params
    command = version_command(find_meshctl(module, params.get("meshctl_path")), params)
    return run_meshctl(module, command, interpret_version)


def run_version(module):
    """The version module's one call."""
    finish(module, version)
