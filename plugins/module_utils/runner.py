# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find and run meshctl for the meshlab.mesh modules: where it is, its environment, an argument list (never a
shell string), and its exit status and stderr turned into a clear failure (`MeshctlError`).

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import json
import os

#: Where the collection's playbooks install the runtime (meshlab_prefix /opt/meshlab).
DEFAULT_VENV_BIN = "/opt/meshlab/venv/bin"
MESHCTL = "meshctl"
MESHD = "meshd"

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


def json_output(stdout, what, kind, description):
    """The JSON `what` (e.g. "meshctl get") printed, when it is of `kind` (dict or list); else a
    MeshctlError quoting the output, saying it is not JSON or not `description`."""
    text = stdout.strip()
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MeshctlError(
            f"{what} printed output that is not JSON ({exc}): {_excerpt(text)}", stdout=stdout
        ) from None
    if not isinstance(data, kind):
        raise MeshctlError(f"{what} printed JSON that is not {description}: {_excerpt(text)}", stdout=stdout)
    return data


def _flag(value):
    return "true" if value else "false"


# ---------------------------------------------------------------------------------------------------------
# Running meshctl from a module


def _executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def find_tool(module, name, explicit=None, option="meshctl_path", beside=None):
    """The program `name` to run. An `explicit` path (with a /) is used as it is; a name (explicit, else
    `name`) is looked for in the directory `beside` (another program the user chose), then in the installed
    runtime (DEFAULT_VENV_BIN), then on PATH: the installed runtime wins over whatever else PATH offers."""
    if explicit and os.sep in explicit:
        if _executable(explicit):
            return explicit
        raise MeshctlError(f"{option}: {explicit} is not an executable file on {MANAGED_HOST}")
    wanted = explicit or name
    candidates = [os.path.join(DEFAULT_VENV_BIN, wanted)]
    if beside:
        candidates.insert(0, os.path.join(beside, wanted))
    for candidate in candidates:
        if _executable(candidate):
            return candidate
    found = module.get_bin_path(wanted)
    if found:
        return found
    raise MeshctlError(
        f"{wanted} was not found in {DEFAULT_VENV_BIN} nor on PATH on {MANAGED_HOST}: "
        f"install the runtime (playbooks/site.yml) or set {option}"
    )


def find_meshctl(module, meshctl_path=None):
    """The meshctl to run: meshctl_path as a path, else the installed runtime's, else meshctl on PATH."""
    return find_tool(module, MESHCTL, meshctl_path)


def find_meshd(module, meshd_path=None, meshctl_path=None):
    """The meshd to run: meshd_path as a path, else the one beside meshctl_path when that is a path (the
    same virtualenv), else the installed runtime's, else meshd on PATH."""
    beside = os.path.dirname(meshctl_path) if meshctl_path and os.sep in meshctl_path else None
    return find_tool(module, MESHD, meshd_path, option="meshd_path", beside=beside)


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


def finish(module, body, changes=False):
    """Exit the module with body(module)'s result, or fail with its MeshctlError. A body that `changes`
    says itself whether it changed (a failure too, in the error's `changed`); any other never changes
    anything."""
    try:
        result = body(module)
    except MeshctlError as exc:
        # A failure after a change (a wait that timed out) says so in the result's `changed`.
        outcome = dict(exc.result)
        changed = bool(outcome.pop("changed", False)) and changes
        module.fail_json(msg=exc.msg, changed=changed, **outcome)
    else:
        if changes:
            module.exit_json(**result)
        else:
            module.exit_json(changed=False, **result)
