# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.resource_info module's body, as kubernetes.core.k8s_info's: one resource by name, or a
list by kind with label and field selectors, through `meshctl get -o json`.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import ConfigApi, config_api_flags
from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    EXIT_OK,
    EXIT_USAGE,
    MeshctlError,
    exit_failure,
    finish,
    json_output,
)

UNKNOWN_KIND = "resource type"


def info_command(meshctl, params):
    """`meshctl get` for the module's options: by name (not found is no error), or by kind in a namespace
    (every namespace when none is given), with the selectors."""
    kind = params["kind"]
    api_version = params.get("api_version") or ""
    if "/" in api_version:
        kind = f"{kind}.{api_version.rpartition('/')[0]}"
    command = [meshctl, "get", kind]
    if params.get("name"):
        command += [params["name"], "--ignore-not-found", "--namespace", params.get("namespace") or "default"]
    elif params.get("namespace"):
        command += ["--namespace", params["namespace"]]
    else:
        command.append("--all-namespaces")
    if params.get("label_selectors"):
        command += ["--selector", ",".join(params["label_selectors"])]
    if params.get("field_selectors"):
        command += ["--field-selector", ",".join(params["field_selectors"])]
    return command + ["-o", "json"] + config_api_flags(params)


def interpret_info(rc, stdout, stderr, params):
    """The resources meshctl printed: one object, a List's items, or none; a MeshctlError otherwise (an
    unknown kind is no error: api_found is false, as with k8s_info)."""
    if rc == EXIT_USAGE and UNKNOWN_KIND in stderr:
        return {"resources": [], "api_found": False, "stderr": stderr}
    if rc != EXIT_OK:
        raise MeshctlError(exit_failure("meshctl get", rc, stderr), rc=rc, stderr=stderr, stdout=stdout)
    if not stdout.strip():
        return {"resources": [], "api_found": True}
    document = json_output(stdout, "meshctl get", dict, "an object")
    if document.get("kind") == "List":
        items = document.get("items")
        if not isinstance(items, list):
            raise MeshctlError(f"meshctl get printed a List without items: {stdout.strip()[:300]}")
        return {"resources": items, "api_found": True}
    return {"resources": [document], "api_found": True}


def check_selectors(params):
    """Selectors name no NAME (kubectl refuses both); each entry is one requirement or several."""
    if params.get("name") and (params.get("label_selectors") or params.get("field_selectors")):
        raise MeshctlError(
            "name: cannot be combined with label_selectors or field_selectors (kubectl refuses a name with a "
            "selector); give one or the other"
        )
    for option in ("label_selectors", "field_selectors"):
        for index, entry in enumerate(params.get(option) or []):
            if not str(entry).strip():
                raise MeshctlError(f"{option}[{index}]: is empty; write for example app=reviews")


def resource_info(module):
    params = module.params
    check_selectors(params)
    api = ConfigApi(module)
    try:
        found = api.run(info_command(api.meshctl, params), interpret_info)
    except MeshctlError as exc:
        if exc.result.get("rc") == EXIT_USAGE:
            raise MeshctlError(
                "label_selectors or field_selectors: " + exc.msg if "selector" in exc.msg else exc.msg,
                **exc.result,
            ) from None
        raise
    if not found["api_found"]:
        module.warn(
            f"kind: {params['kind']} is not a kind meshd stores (resources is empty): "
            + " ".join(found["stderr"].split())
        )
    return {"resources": found["resources"], "api_found": found["api_found"], "command": found["command"]}


def run_resource_info(module):
    """The resource_info module's one call: never changes anything."""
    finish(module, resource_info)
