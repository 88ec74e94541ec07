# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The meshlab.mesh.resource module's body, as a kubernetes.core.k8s user expects it: state present (replace
as given, or merge into the live object with apply), patched (merge, never create) and absent (by the
input's resources, or by kind and name); wait and wait_condition; `result`, `method` and the diff.

Everything a user can get wrong is refused before anything changes: the input is checked by meshctl's dry
run first, and a wait_condition on a kind without conditions fails right after it, before the real apply.

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import json
import os

from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump_all, yaml_load_all

from ansible_collections.meshlab.mesh.plugins.module_utils.config_api import (
    ABSENT,
    NAMESPACE_KIND,
    ConfigApi,
    comparable,
    config_api_flags,
    describe_problem,
    describe_result,
    get_command,
    interpret_listing,
    interpret_resources,
    resource_diff,
    resource_key,
    result_key,
)
from ansible_collections.meshlab.mesh.plugins.module_utils.merge import merge_patch
from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    EXIT_USAGE,
    MANAGED_HOST,
    MeshctlError,
    finish,
)
from ansible_collections.meshlab.mesh.plugins.module_utils.waiting import (
    check_wait_condition,
    readiness_problem,
    wait_for,
)

UNCHANGED = "unchanged"
CHANGING = ("created", "configured", "deleted")
INPUTS = ("definition", "src", "template")

# ---------------------------------------------------------------------------------------------------------
# The input: src, definition (a template arrives rendered, as definition), or kind and name


def definition_text(definition):
    """The YAML text of `definition`: a string as it is, a mapping or a list of mappings as documents."""
    if isinstance(definition, str):
        if not definition.strip():
            raise MeshctlError("definition: is empty; give one or more resources")
        return definition
    return dump_documents(definition_documents(definition))


def definition_documents(definition):
    """`definition` as a list of mappings (a mapping is one); a MeshctlError names what is not one."""
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
    return documents


def dump_documents(documents):
    if HAS_YAML:
        return yaml_dump_all(documents, sort_keys=False, default_flow_style=False)
    return "\n---\n".join(json.dumps(document) for document in documents) + "\n"


def source_label(params):
    """How messages name the input: `src`, `definition`, or `template <path>` (rendered on the controller)."""
    if params.get("template"):
        paths = params["template"] if isinstance(params["template"], list) else [params["template"]]
        return "template " + ", ".join(str(p) for p in paths)
    return "src" if params.get("src") else "definition"


def resource_input(params, isfile=os.path.isfile, exists=os.path.exists):
    """(meshctl's -f arguments, text for its stdin or None) for the module's src or definition."""
    src = params.get("src")
    if src:
        if not exists(src):
            raise MeshctlError(f"src: {src} does not exist on {MANAGED_HOST}")
        if not isfile(src):
            raise MeshctlError(f"src: {src} is not a file on {MANAGED_HOST}; give one YAML file")
        return ["-f", src], None
    if params.get("definition") is None:
        if params.get("template"):
            raise MeshctlError(
                "template: was not rendered; the meshlab.mesh.resource action plugin renders it on the "
                "controller (run the module as meshlab.mesh.resource)"
            )
        raise MeshctlError("give src (a file on the managed host), definition or template (the resources)")
    return ["-f", "-"], definition_text(params["definition"])


def check_options(params):
    """Options that contradict the state or each other; before anything runs."""
    state = params["state"]
    if state == "absent" and params.get("apply"):
        raise MeshctlError(
            "apply: merges the input into live objects (state=present); state=absent deletes them: drop "
            "apply, or set state=present"
        )
    if state == "absent" and params.get("wait_condition"):
        raise MeshctlError(
            "wait_condition: state=absent waits until the resources are gone, not for a condition: drop "
            "wait_condition (wait alone waits for the deletion)"
        )
    for option in ("wait_timeout", "wait_sleep"):
        if (params.get(option) or 0) < 0:
            raise MeshctlError(f"{option}: must be 0 or more seconds, not {params[option]}")


def check_input(params):
    """The input the state needs, and nothing that contradicts it; before anything runs."""
    check_options(params)
    given = [name for name in INPUTS if params.get(name) is not None]
    state = params["state"]
    if (params.get("kind") or params.get("name")) and given:
        raise MeshctlError(
            "kind and name delete one resource by its name (with state=absent); do not combine them with "
            f"{' or '.join(given)}, which name their resources themselves"
        )
    if state != "absent" and not given:
        raise MeshctlError(
            f"state={state} needs the resources: give definition, src or template (kind and name alone "
            "only delete, with state=absent)"
        )
    if state == "absent" and not given:
        if not params.get("kind"):
            raise MeshctlError("kind: required to delete by name (or give definition, src or template)")
        if not params.get("name"):
            raise MeshctlError(
                f"name: required to delete a {params['kind']} by kind and name (meshlab.mesh.resource "
                "deletes one named resource; give name, or definition, src or template)"
            )


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


def predicted_documents(documents, changing, default_namespace):
    """What meshd will store for each changing result, from the documents applied (check mode's after):
    without server metadata, in its namespace."""
    wanted = {result_key(r) for r in changing}
    found = {}
    for document in documents:
        if not isinstance(document, dict):
            continue
        metadata = document.get("metadata") or {}
        namespace = metadata.get("namespace") or default_namespace or "default"
        key = resource_key(document.get("kind"), namespace, metadata.get("name"))
        if key in wanted:
            stored = comparable(document)
            if document.get("kind") != NAMESPACE_KIND:
                stored.setdefault("metadata", {})["namespace"] = key[1]
            found[key] = stored
    return found


def kind_argument(params):
    """meshctl's KIND for delete by name: `Kind`, or `Kind.group` when api_version names a group."""
    api_version = params.get("api_version") or ""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return f"{params['kind']}.{group}" if group else params["kind"]


def parse_documents(text, source):
    """The mappings of YAML (or JSON) `text`, for merging; a MeshctlError naming `source` otherwise."""
    if HAS_YAML:
        try:
            loaded = [d for d in yaml_load_all(text) if d is not None]
        except Exception as exc:  # PyYAML's errors name the line; meshctl would say the same
            raise MeshctlError(f"{source}: is not valid YAML: {exc}") from None
    else:
        try:
            loaded = [json.loads(text)]
        except ValueError:
            raise MeshctlError(
                f"{source}: apply and state=patched read the resources on {MANAGED_HOST}, which needs PyYAML "
                "there for YAML text; install it, or give definition as a mapping or as JSON"
            ) from None
    documents = []
    for document in loaded:
        documents += document if isinstance(document, list) else [document]
    if not documents:
        raise MeshctlError(f"{source}: has no resources")
    return documents


def document_group(document):
    api_version = str(document.get("apiVersion") or "")
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def document_key_in(document, default_namespace, source, index):
    """(kind, namespace, name) of a document to merge; a MeshctlError names a missing kind or name."""
    where = f"{source} document {index + 1}"
    if not isinstance(document, dict):
        raise MeshctlError(f"{where}: is a {type(document).__name__}, not a resource (a mapping)")
    if not document.get("kind"):
        raise MeshctlError(f"{where}: has no kind; every resource needs apiVersion, kind and metadata.name")
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    if not metadata.get("name"):
        raise MeshctlError(f"{where} ({document['kind']}): has no metadata.name")
    namespace = metadata.get("namespace") or default_namespace or "default"
    return resource_key(document["kind"], namespace, metadata["name"])


# ---------------------------------------------------------------------------------------------------------
# The module's body


class ResourceRun:
    """One run of the resource module: the API, the input and what the dry run and the change said."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        check_input(self.params)
        self.source = source_label(self.params)
        self.api = ConfigApi(module)
        self.merge = self.params["state"] == "patched" or bool(self.params.get("apply"))
        self.live = {}  # the stored documents read before the change, by key
        self.skipped = []  # patched resources that do not exist: (kind, group, namespace, name)

    # -- commands ---------------------------------------------------------------------------------------

    def command(self, verb, input_args, dry_run):
        return resource_command(self.api.meshctl, verb, self.params, input_args, dry_run)

    def run(self, verb, input_args, data, subject=None, stdin="definition", dry_run=True):
        if subject is None:
            subject, stdin = self.source, (self.source if self.params.get("template") else "definition")
        interpret = interpret_resources(verb, subject, stdin)
        try:
            return self.api.run(self.command(verb, input_args, dry_run), interpret, data)
        except MeshctlError as exc:
            if exc.result.get("rc") == EXIT_USAGE and "resource type" in exc.result.get("stderr", ""):
                raise MeshctlError(
                    f"kind: {self.params.get('kind')} is not a kind meshd stores, nothing was changed: "
                    + exc.msg,
                    **exc.result,
                ) from None
            raise

    # -- present and patched ----------------------------------------------------------------------------

    def merged_input(self):
        """The documents to apply when merging: each live object with the input merged in (a new one as
        given with apply; none with state=patched, which never creates)."""
        params = self.params
        if params.get("src"):
            resource_input(params)  # checks the file
            text = read_text(params["src"])
        else:
            text = resource_input(params)[1]
        if isinstance(params.get("definition"), (dict, list)):
            documents = definition_documents(params["definition"])
        else:
            documents = parse_documents(text, self.source)
        keys = [document_key_in(d, params.get("namespace"), self.source, i) for i, d in enumerate(documents)]
        self.live = self.read_live(documents, keys)
        merged = []
        for index, document in enumerate(documents):
            key = keys[index]
            live = self.live.get(key)
            if live is None and params["state"] == "patched":
                self.skipped.append((document["kind"], document_group(document), key[1], key[2]))
                continue
            merged.append(merge_patch(comparable(live), document) if live is not None else document)
        return merged

    def read_live(self, documents, keys):
        """The stored documents of these keys: one `meshctl get` per kind and namespace."""
        found = {}
        groups = []
        for index, document in enumerate(documents):
            group = (document["kind"], document_group(document), keys[index][1])
            if group not in groups:
                groups.append(group)
        wanted = set(keys)
        for kind, group, namespace in groups:
            command = get_command(self.api.meshctl, self.params, kind, group, namespace)
            try:
                listing = self.api.run(command, interpret_listing)
            except MeshctlError as exc:
                if exc.result.get("rc") == EXIT_USAGE:
                    raise MeshctlError(
                        f"{self.source}: {kind} ({group or 'v1'}) is not a kind meshd stores, nothing was "
                        f"changed: {exc.msg}",
                        **exc.result,
                    ) from None
                raise
            for item in listing["items"]:
                metadata = item.get("metadata") or {}
                key = resource_key(item.get("kind"), metadata.get("namespace"), metadata.get("name"))
                if key in wanted:
                    found[key] = item
        return found

    def present(self):
        params, module = self.params, self.module
        if self.merge:
            merged = self.merged_input()
            if not merged:
                return self.finish([], [], {}, {})
            input_args, data = ["-f", "-"], dump_documents(merged)
            stdin = None
        else:
            input_args, data = resource_input(params)
            merged, stdin = None, "definition"
        subject = self.source if self.merge else None
        probe = self.run("apply", input_args, data, subject, stdin)
        results = probe["results"]
        if params.get("wait"):
            check_wait_condition(results, params.get("wait_condition"), describe)
        changing = [r for r in results if r.get("result") in CHANGING]
        before = self.live if self.merge else (self.api.stored(changing) if module._diff else {})
        if changing and not module.check_mode:
            results = self.run("apply", input_args, data, subject, stdin, dry_run=False)["results"]
            changing = [r for r in results if r.get("result") in CHANGING]
        for warning in probe["warnings"]:
            module.warn(describe_problem(warning))
        if module.check_mode:
            after = self.api.stored([r for r in results if r not in changing])
            after.update(self.predicted(changing, merged, data))
            return self.finish(results, changing, before, after)
        after = self.api.stored(results)
        return self.finish(results, changing, before, after, wait=bool(params.get("wait")))

    def predicted(self, changing, merged, data):
        """What meshd would store for the changing resources (check mode): the merged documents, or the
        input as given."""
        if merged is None:
            merged = parse_documents(data or read_text(self.params["src"]), self.source)
        return predicted_documents(merged, changing, self.params.get("namespace"))

    # -- absent -----------------------------------------------------------------------------------------

    def absent(self):
        params, module = self.params, self.module
        if params.get("kind") and not any(params.get(name) is not None for name in INPUTS):
            input_args, data = [kind_argument(params), params["name"]], None
        else:
            input_args, data = resource_input(params)
        results = self.run("delete", input_args, data)["results"]
        changing = [r for r in results if r.get("result") in CHANGING]
        before = self.api.stored(changing) if changing else {}
        if changing and not module.check_mode:
            results = self.run("delete", input_args, data, dry_run=False)["results"]
            changing = [r for r in results if r.get("result") in CHANGING]
        wait = bool(params.get("wait")) and not module.check_mode
        return self.finish(results, changing, before, None, wait=wait, absent=True)

    # -- waiting and the result -------------------------------------------------------------------------

    def finish(self, results, changing, before, after, wait=False, absent=False):
        module = self.module
        for kind, _group, namespace, name in self.skipped:
            where = name if kind == NAMESPACE_KIND else f"{namespace}/{name}"
            module.warn(f"{kind} {where} was not found; state=patched does not create it")
        outcome = {"changed": bool(changing), "commands": self.api.commands}
        after = {} if after is None and not wait else after
        if wait and results:
            after, duration = self.wait(results, after, absent, outcome)
            outcome["duration"] = duration
        outcome["resources"] = [entry(r) for r in results] + [
            {"kind": k, "api_group": g, "namespace": ns, "name": n, "result": ABSENT}
            for k, g, ns, n in self.skipped
        ]
        per_resource = []
        for result in results:
            key = result_key(result)
            found = before.get(key) if absent else (after or {}).get(key)
            per_resource.append(
                {
                    "changed": result in changing,
                    "method": self.method(result, absent),
                    "result": found if found is not None else {},
                }
            )
        if len(per_resource) == 1:
            outcome["result"] = per_resource[0]["result"]
            outcome["method"] = per_resource[0]["method"]
        else:
            outcome["result"] = {"results": per_resource}
        if module._diff and changing:
            outcome["diff"] = resource_diff(changing, before, {} if absent else after)
        return outcome

    def method(self, result, absent):
        if absent:
            return "delete"
        if result.get("result") == "created":
            return "create"
        if self.params["state"] == "patched":
            return "patch"
        return "apply" if self.params.get("apply") else "replace"

    def wait(self, results, after, absent, outcome):
        """Poll until every resource is as waited for; a timeout fails, saying what each still lacks."""
        params = self.params
        condition = params.get("wait_condition")
        groups = {result_key(r): r.get("group", "") for r in results}

        def problems_of(found):
            problems = {}
            for result in results:
                key = result_key(result)
                problem = readiness_problem(found.get(key), groups[key], condition, absent)
                if problem:
                    problems[key] = f"{describe(result)} {problem}"
            return problems

        first = [after] if after is not None else []  # present: read right after the change

        def poll():
            if first:
                return first.pop()
            return self.api.stored(results, record=False)

        found, problems, duration = wait_for(poll, problems_of, params["wait_timeout"], params["wait_sleep"])
        if problems:
            what = "deleted" if absent else "ready"
            outcome.update(
                resources=[entry(r) for r in results],
                result={"results": [found.get(result_key(r)) or {} for r in results]},
                duration=duration,
            )
            raise MeshctlError(
                f"timed out after {params['wait_timeout']}s waiting for the resources to be {what}"
                f"{'' if not outcome['changed'] else ' (the change was made)'}: "
                + "; ".join(problems.values()),
                **outcome,
            )
        return found, duration


def describe(result):
    return describe_result(result)


def entry(result):
    """One of the module's `resources`: meshctl's result, without the key names that mean nothing to a
    user."""
    return {
        "kind": result.get("kind"),
        "api_group": result.get("group", ""),
        "namespace": result.get("namespace", ""),
        "name": result.get("name"),
        "result": result.get("result"),
    }


def read_text(path):
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise MeshctlError(f"src: {path} cannot be read on {MANAGED_HOST}: {exc}") from None


def manage_resources(module):
    """The resource module's body: present, patched or absent."""
    run = ResourceRun(module)
    if module.params["state"] == "absent":
        return run.absent()
    return run.present()


def run_resource(module):
    """The resource module's one call."""
    if module.params.get("wait_condition") and not module.params.get("wait"):
        module.warn("wait_condition is used only with wait: true; nothing is waited for")
    finish(module, manage_resources, changes=True)
