# Copyright: meshlab contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config-API modules' side of meshd's config API through meshctl: the connection flags, reading
what is stored, meshctl's per-resource results and refusals, the diff, and the namespace module's body
(the resource module's is resource.py).

This runs on managed hosts: keep it importable on every Python that ansible-core supports there.
"""

from __future__ import annotations

import copy
import json

from ansible.module_utils.common.yaml import HAS_YAML, yaml_dump

from ansible_collections.meshlab.mesh.plugins.module_utils.runner import (
    ENVIRONMENT,
    EXIT_DATA,
    EXIT_OK,
    MeshctlError,
    _error_text,
    _excerpt,
    exit_failure,
    find_meshctl,
    finish,
    json_output,
    run_meshctl,
)

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
    return json_output(stdout, what, dict, "an object")


_UNSET = object()


def interpret_resources(verb, subject=None, stdin=_UNSET):
    """The interpreter of `meshctl apply|delete -o json`: its per-resource results, or a MeshctlError.

    `subject` names the input in a refusal (default: src or definition, whichever the module was given).
    `stdin` names text meshctl read from its stdin in each problem's location (`definition:12`); None
    leaves the location out, for text the module wrote itself. Its default is `definition` without a
    subject and None with one.
    """
    what = f"meshctl {verb}"
    if stdin is _UNSET:
        stdin = None if subject else "definition"

    def interpret(rc, stdout, stderr, params):
        if rc == EXIT_DATA and stdout.strip().startswith("{"):
            errors = _json_document(stdout, what).get("errors") or []
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


class ConfigApi:
    """meshctl's config API commands for one module run: where meshctl is, how it connects, what ran."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.meshctl = find_meshctl(module, self.params.get("meshctl_path"))
        self.environment = config_api_environment(self.params)
        self.commands = []

    def run(self, command, interpret, data=None, record=True):
        """Run one meshctl command; `commands` lists it unless `record` is false (a repeated poll)."""
        if record:
            self.commands.append(command)
        try:
            return run_meshctl(self.module, command, interpret, data=data, environment=self.environment)
        except MeshctlError as exc:
            exc.result["commands"] = self.commands
            raise

    def stored(self, results, record=True):
        """The stored documents of the resources in `results`, by key: one `meshctl get` per kind and
        namespace (none for no results)."""
        wanted = {result_key(r) for r in results}
        groups = []
        for result in results:
            group = (result.get("kind"), result.get("group", ""), result.get("namespace", ""))
            if group not in groups:
                groups.append(group)
        found = {}
        for kind, group, namespace in groups:
            listing = self.run(
                get_command(self.meshctl, self.params, kind, group, namespace),
                interpret_listing,
                record=record,
            )
            for item in listing["items"]:
                key = document_key(item)
                if key in wanted:
                    found[key] = item
        return found


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


def run_namespace(module):
    """The namespace module's one call."""
    finish(module, manage_namespace, changes=True)
