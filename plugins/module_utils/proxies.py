# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.proxy_status module's body: each proxy's sync state with meshd, as
`istioctl proxy-status` shows it (`meshctl proxy-status -o json`), and waiting until every proxy is SYNCED.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import ConfigApi, config_api_flags
from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    EXIT_OK,
    MeshctlError,
    exit_failure,
    finish,
    json_output,
)
from ansible_collections.meshlab.mesh.plugins.module_utils.waiting import wait_for

SYNCED = "SYNCED"
STATES = ("SYNCED", "STALE", "NOT SENT")
NOT_CONNECTED = "NOT CONNECTED"


def interpret_rows(rc, stdout, stderr, params):
    if rc != EXIT_OK:
        raise MeshctlError(
            exit_failure("meshctl proxy-status", rc, stderr), rc=rc, stderr=stderr, stdout=stdout
        )
    rows = json_output(stdout, "meshctl proxy-status", list, "a list of proxies")
    if not all(isinstance(row, dict) and row.get("id") for row in rows):
        raise MeshctlError(f"meshctl proxy-status printed JSON that is not a list of proxies: {stdout[:300]}")
    return {"rows": rows}


def selected(rows, proxy=None, namespace=None):
    """The rows of the proxies asked about: one by id, or those of a namespace, or all."""
    return [
        row
        for row in rows
        if (not proxy or row["id"] == proxy) and (not namespace or row.get("namespace") == namespace)
    ]


def unsynced(rows, proxy=None):
    """The proxies that are not SYNCED, each as {id, state, last_error}; a named proxy that is not
    connected is NOT CONNECTED."""
    found = [
        {"id": row["id"], "state": row.get("state"), "last_error": row.get("last_error") or ""}
        for row in rows
        if row.get("state") != SYNCED
    ]
    if proxy and not any(row["id"] == proxy for row in rows):
        found.append({"id": proxy, "state": NOT_CONNECTED, "last_error": ""})
    return found


def counts(rows):
    found = {state: 0 for state in STATES}
    for row in rows:
        found[row.get("state") or "UNKNOWN"] = found.get(row.get("state") or "UNKNOWN", 0) + 1
    return found


def describe_unsynced(entries):
    return "; ".join(
        f"{e['id']} is {e['state']}" + (f" ({e['last_error']})" if e["last_error"] else "") for e in entries
    )


def check_options(params):
    for option in ("wait_timeout", "wait_sleep"):
        if params[option] < 0:
            raise MeshctlError(f"{option}: must be 0 or more seconds, not {params[option]}")


def proxy_status(module):
    params = module.params
    check_options(params)
    api = ConfigApi(module)
    command = [api.meshctl, "proxy-status", "-o", "json", *config_api_flags(params)]
    state = {"first": True}

    def poll():
        record, state["first"] = state["first"], False
        rows = api.run(command, interpret_rows, record=record)["rows"]
        return selected(rows, params.get("proxy"), params.get("namespace"))

    def problems_of(rows):
        return unsynced(rows, params.get("proxy"))

    if params["wait_for_sync"]:
        rows, problems, duration = wait_for(poll, problems_of, params["wait_timeout"], params["wait_sleep"])
    else:
        rows = poll()
        problems, duration = problems_of(rows), None
    result = {
        "proxies": rows,
        "synced": not problems,
        "unsynced": problems,
        "counts": counts(rows),
        "commands": api.commands,
    }
    if duration is not None:
        result["duration"] = duration
        if problems:
            raise MeshctlError(
                f"timed out after {params['wait_timeout']}s waiting for the proxies to be SYNCED: "
                + describe_unsynced(problems),
                **result,
            )
    return result


def run_proxy_status(module):
    """The proxy_status module's one call: never changes anything."""
    finish(module, proxy_status)
