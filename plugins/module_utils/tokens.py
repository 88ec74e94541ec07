# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.token module's body: meshd's bootstrap tokens through `meshd token` on the host whose
data directory holds them (`create`, `add`, `list`, `revoke`, each with `-o json` and `--dry-run`).

A token's value only ever goes to meshd on its stdin (`--token-file -`), never on a command line; the
module's `value` option is no_log. meshd keeps only each token's hash.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import to_yaml
from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    ENVIRONMENT,
    EXIT_OK,
    MeshctlError,
    exit_failure,
    find_meshd,
    finish,
    json_output,
)

CREATED, CONFIGURED, UNCHANGED, REVOKED, ABSENT = "created", "configured", "unchanged", "revoked", "absent"
#: meshd's flags and the module's options they come from, to name the option in meshd's usage errors.
OPTION_OF_FLAG = (("--identity", "identities"), ("--token-file", "value"), ("--ttl", "ttl"))


def interpret_json(what):
    def interpret(rc, stdout, stderr, params):
        if rc != EXIT_OK:
            message = exit_failure(what, rc, stderr)
            option = next((o for flag, o in OPTION_OF_FLAG if f"error: {flag}" in stderr), None)
            raise MeshctlError(f"{option}: {message}" if option else message, rc=rc, stderr=stderr)
        return json_output(stdout, what, dict, "an object")

    return interpret


def check_options(params):
    """What the state needs, before meshd runs."""
    if params["state"] == "present":
        if not params.get("identities"):
            raise MeshctlError(
                "identities: required with state=present: the identities the token allows, each "
                "<namespace>/<service account> or <namespace>/*"
            )
        if params.get("token_id"):
            raise MeshctlError(
                "token_id: names a token to revoke (state=absent); a token is found by its value with "
                "state=present"
            )
    elif not params.get("token_id") and not params.get("value"):
        raise MeshctlError("state=absent needs token_id (as meshd token list shows it) or value (the token)")


class Tokens:
    """meshd's token commands for one module run."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.meshd = find_meshd(module, self.params.get("meshd_path"), self.params.get("meshctl_path"))
        self.commands = []

    def run(self, words, what, data=None):
        command = [self.meshd, "token", *words, "-o", "json"]
        if self.params.get("data_dir"):
            command += ["--data-dir", self.params["data_dir"]]
        self.commands.append(command)
        rc, stdout, stderr = self.module.run_command(
            command, check_rc=False, environ_update=ENVIRONMENT, data=data
        )
        try:
            return interpret_json(what)(rc, stdout, stderr, self.params)
        except MeshctlError as exc:
            exc.result.update(command=command, commands=self.commands)
            raise

    def grants(self):
        return {t["id"]: t for t in self.run(["list"], "meshd token list")["tokens"]}

    def grant_words(self):
        params = self.params
        words = [part for identity in params["identities"] for part in ("--identity", identity)]
        words += ["--description", params.get("description") or ""]
        if params.get("ttl"):
            words += ["--ttl", params["ttl"]]
        return words


def grant_view(grant):
    """A grant as the module returns it and shows it in a diff (never the token)."""
    if grant is None:
        return None
    return {key: grant.get(key) for key in ("id", "identities", "created", "expires", "description")}


def manage_token(module):
    params = module.params
    check_options(params)
    tokens = Tokens(module)
    dry_run = ["--dry-run"] if module.check_mode else []
    value = params.get("value")
    issued = None
    if params["state"] == "present" and value:
        known = tokens.grants()
        words = ["add", "--token-file", "-", *tokens.grant_words(), *dry_run]
        done = tokens.run(words, "meshd token add", value)
        outcome, before, after = done["result"], known.get(done.get("id")), done
    elif params["state"] == "present":
        done = tokens.run(["create", *tokens.grant_words(), *dry_run], "meshd token create")
        issued = done.get("token")
        outcome, before, after = CREATED, None, done
    else:
        known = tokens.grants()
        words = ["revoke", "--ignore-not-found", *dry_run]
        words += [params["token_id"]] if params.get("token_id") else ["--token-file", "-"]
        done = tokens.run(words, "meshd token revoke", None if params.get("token_id") else value)
        (entry,) = done["results"]
        outcome = REVOKED if entry["result"] == REVOKED else ABSENT
        before, after = known.get(entry["id"]), None
    changed = outcome in (CREATED, CONFIGURED, REVOKED)
    view = grant_view(after if after is not None else before) or {}
    result = {
        "changed": changed,
        "result": outcome,
        "token_id": view.get("id"),
        "identities": view.get("identities") or [],
        "expires": view.get("expires"),
        "description": view.get("description"),
        "commands": tokens.commands,
    }
    if issued is not None:
        result["value"] = issued
    if module._diff and changed:
        result["diff"] = {
            "before_header": f"bootstrap token {view.get('id') or '(new)'}",
            "after_header": f"bootstrap token {view.get('id') or '(new)'}",
            "before": to_yaml(grant_view(before)),
            "after": to_yaml(grant_view(after)),
        }
    return result


def run_token(module):
    """The token module's one call."""
    finish(module, manage_token, changes=True)
