"""Read resources from YAML or JSON files, directories (recursively) and stdin.

Each document keeps where it came from: the file, the line its document starts on, and the line of every
scalar field, keyed the way Istio keys them (`{.spec.http[0].route[0].destination.host}`), so messages can
point at the field they are about. A document that cannot be read becomes a `LoadError` naming the file and
line; the other documents of the file are still read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import IO, Any

import yaml

from . import kinds
from .kinds import Kind
from .model import Resource, Source

#: File name endings that are read from directories and accepted as arguments.
RECOGNIZED_EXTENSIONS = (".json", ".yaml", ".yml")
#: Files larger than this are refused rather than parsed.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: A document expanding to more values than this (aliases counted each time they are used) is refused.
MAX_DOCUMENT_VALUES = 1_000_000
STDIN_NAME = "-"

_SEPARATOR = re.compile(r"---\s*$")


class InputNotFoundError(Exception):
    """A path given on the command line does not exist."""


@dataclass(frozen=True, slots=True)
class LoadError:
    """A document (or file) that could not be read."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass(slots=True)
class LoadResult:
    resources: list[Resource] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    #: Resources of kinds the mesh neither models nor analyzes (Ingress, ServiceAccount, …): left alone.
    ignored: list[Resource] = field(default_factory=list)
    #: Files passed over because of their extension.
    skipped_files: list[str] = field(default_factory=list)
    #: The files that were read, in order.
    files: list[str] = field(default_factory=list)

    def extend(self, other: LoadResult) -> None:
        self.resources += other.resources
        self.errors += other.errors
        self.ignored += other.ignored
        self.skipped_files += other.skipped_files
        self.files += other.files


class _Loader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):  # type: ignore[misc]
    """Safe loading, with timestamps left as strings (as Kubernetes' YAML reader leaves them)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_paths(paths: Sequence[str], stdin: IO[str] | None = None) -> LoadResult:
    """Load every path: files, directories (walked recursively, recognized extensions only) or `-`."""
    result = LoadResult()
    for path in paths:
        if path == STDIN_NAME:
            text = stdin.read() if stdin is not None else ""
            result.files.append(STDIN_NAME)
            result.extend(load_text(text, STDIN_NAME))
        elif os.path.isdir(path):
            for file_path in _walk(path):
                if file_path.endswith(RECOGNIZED_EXTENSIONS):
                    result.extend(load_file(file_path))
                else:
                    result.skipped_files.append(file_path)
        elif os.path.exists(path):
            if path.endswith(RECOGNIZED_EXTENSIONS):
                result.extend(load_file(path))
            else:
                result.skipped_files.append(path)
        else:
            raise InputNotFoundError(path)
    return result


def _walk(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            yield os.path.join(root, name)


def load_file(path: str) -> LoadResult:
    result = LoadResult(files=[path])
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES:
            result.errors.append(
                LoadError(path, 0, f"file is {size} bytes, more than the {MAX_FILE_BYTES} this tool reads")
            )
            return result
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        result.errors.append(LoadError(path, 0, f"cannot read the file: {exc.strerror or exc}"))
        return result
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        result.errors.append(LoadError(path, 0, f"not UTF-8 text (invalid byte at offset {exc.start})"))
        return result
    result.extend(load_text(text, path))
    result.files = [path]
    return result


def load_text(text: str, path: str) -> LoadResult:
    """Load every document of one file's text. `path` is used to name it in sources and errors."""
    result = LoadResult()
    if "\x00" in text:
        result.errors.append(LoadError(path, 0, "the file contains NUL bytes; it is not YAML or JSON text"))
        return result
    for chunk, first_line, start_line in _split_documents(text):
        _load_chunk(chunk, path, first_line, start_line, result)
    return result


def _split_documents(text: str) -> Iterator[tuple[str, int, int]]:
    """Split a stream on `---` lines, as Kubernetes' YAML reader does.

    Yields (chunk, line of the chunk's first line, line the document starts on). A document starts on its
    first line that is neither blank nor a separator; a leading comment counts, as it does for istioctl.
    """
    lines = text.splitlines(keepends=True)
    buffer: list[str] = []
    first = start = 0
    for number, line in enumerate(lines, start=1):
        if _SEPARATOR.match(line):
            if buffer:
                yield "".join(buffer), first, start
            buffer, first, start = [], 0, 0
            continue
        if not buffer:
            first = number
        buffer.append(line)
        if not start and line.strip():
            start = number
    if buffer:
        yield "".join(buffer), first, start


def _load_chunk(chunk: str, path: str, first_line: int, start_line: int, result: LoadResult) -> None:
    loader = _Loader(chunk)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:
                continue
            field_lines = _field_lines(node, first_line - 1)
            _add_document(data, node, path, start_line, field_lines, first_line - 1, result)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        last_line = first_line + max(chunk.count("\n") - (1 if chunk.endswith("\n") else 0), 0)
        line = min(first_line + mark.line, last_line) if mark is not None else start_line
        problem = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        result.errors.append(LoadError(path, line, f"invalid YAML: {problem}"))
    except yaml.YAMLError as exc:
        result.errors.append(LoadError(path, start_line, f"invalid YAML: {exc}"))
    except _TooLarge as exc:
        result.errors.append(LoadError(path, start_line, str(exc)))
    except RecursionError:
        result.errors.append(LoadError(path, start_line, "the document is nested too deeply to read"))
    finally:
        loader.dispose()


class _TooLarge(Exception):
    pass


def _field_lines(root: yaml.Node, offset: int, prefix: str = "") -> Mapping[str, int]:
    """Map the path of every scalar under `root` to its line, walking without recursion."""
    lines: dict[str, int] = {}
    stack: list[tuple[yaml.Node, str]] = [(root, prefix)]
    visited = 0
    while stack:
        node, path = stack.pop()
        visited += 1
        if visited > MAX_DOCUMENT_VALUES:
            raise _TooLarge(
                f"the document expands to more than {MAX_DOCUMENT_VALUES} values "
                "(too large, or aliases used to inflate it); it was not read"
            )
        if isinstance(node, yaml.ScalarNode):
            if path:
                lines.setdefault("{" + path + "}", node.start_mark.line + 1 + offset)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    stack.append((value, f"{path}.{key.value}"))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                stack.append((item, f"{path}[{index}]"))
    return MappingProxyType(lines)


def _add_document(
    data: Any,
    node: yaml.Node,
    path: str,
    start_line: int,
    field_lines: Mapping[str, int],
    offset: int,
    result: LoadResult,
) -> None:
    if not isinstance(data, dict):
        found = type(data).__name__ if not isinstance(data, list) else "a list"
        result.errors.append(
            LoadError(
                path, start_line, f"a document must be a mapping with apiVersion and kind, found {found}"
            )
        )
        return
    if data.get("kind") == "List" and isinstance(data.get("items"), list):
        item_nodes = _list_item_nodes(node)
        for index, item in enumerate(data["items"]):
            item_node = item_nodes[index] if index < len(item_nodes) else None
            line = item_node.start_mark.line + 1 + offset if item_node is not None else start_line
            lines = _field_lines(item_node, offset) if item_node is not None else MappingProxyType({})
            _add_resource(item, path, line, lines, result, where=f"items[{index}]: ")
        return
    _add_resource(data, path, start_line, field_lines, result)


def _list_item_nodes(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if (
                isinstance(key, yaml.ScalarNode)
                and key.value == "items"
                and isinstance(value, yaml.SequenceNode)
            ):
                return list(value.value)
    return []


def _add_resource(
    data: Any, path: str, line: int, field_lines: Mapping[str, int], result: LoadResult, where: str = ""
) -> None:
    try:
        resource = parse_resource(data, Source(path, line, field_lines))
    except ResourceError as exc:
        result.errors.append(LoadError(path, line, where + str(exc)))
        return
    if resource.kind.group in kinds.ISTIO_GROUPS or kinds.lookup(resource.kind.group, resource.kind.kind):
        result.resources.append(resource)
    else:
        result.ignored.append(resource)


class ResourceError(ValueError):
    """A document that is not a well-formed resource (no kind, no name, labels that are not strings…)."""


def parse_resource(data: Any, source: Source | None = None) -> Resource:
    """Build a `Resource` from one decoded document, checking what every resource must have."""
    if not isinstance(data, dict):
        raise ResourceError("a resource must be a mapping with apiVersion, kind and metadata")
    api_version, kind_name = data.get("apiVersion"), data.get("kind")
    missing = [
        name for name, value in (("apiVersion", api_version), ("kind", kind_name)) if value in (None, "")
    ]
    if missing:
        raise ResourceError(f"missing {' and '.join(missing)}: every resource needs apiVersion and kind")
    if not isinstance(api_version, str):
        raise ResourceError(
            f"apiVersion: must be a string such as networking.istio.io/v1, found {api_version!r}"
        )
    if not isinstance(kind_name, str):
        raise ResourceError(f"kind: must be a string such as VirtualService, found {kind_name!r}")
    kind = _resolve_kind(api_version, kind_name)
    metadata = data.get("metadata")
    if not isinstance(metadata, dict):
        raise ResourceError(f"{kind_name}: metadata: required, a mapping with at least a name")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise ResourceError(f"{kind_name}: metadata.name: required, a non-empty string")
    namespace = metadata.get("namespace", "")
    if namespace is None:
        namespace = ""
    if not isinstance(namespace, str):
        raise ResourceError(f"{kind_name} {name}: metadata.namespace: must be a string, found {namespace!r}")
    labels = _string_map(metadata, "labels", kind_name, name)
    annotations = _string_map(metadata, "annotations", kind_name, name)
    return Resource(
        kind=kind,
        api_version=api_version,
        name=name,
        namespace=namespace if kind.namespaced else "",
        labels=labels,
        annotations=annotations,
        body=data,
        source=source,
    )


def _resolve_kind(api_version: str, kind_name: str) -> Kind:
    group, version = kinds.split_api_version(api_version)
    known = kinds.lookup(group, kind_name)
    if known is not None:
        if version not in known.versions:
            served = ", ".join(f"{group + '/' if group else ''}{v}" for v in known.versions)
            raise ResourceError(
                f"apiVersion {api_version} is not served for {kind_name}; use one of: {served}"
            )
        return known
    if group in kinds.ISTIO_GROUPS:
        known_here = ", ".join(k.kind for k in kinds.kinds_in_group(group))
        hint = (
            f"; did you mean {guess}?" if (guess := _closest(kind_name, kinds.kinds_in_group(group))) else ""
        )
        raise ResourceError(f"unknown kind {kind_name} in {group} (known kinds: {known_here}){hint}")
    builtin = kinds.KUBERNETES_BUILTIN_KINDS.get(group)
    if builtin is not None and kind_name not in builtin:
        guess = _closest_name(kind_name, builtin)
        hint = f"; did you mean {guess}?" if guess else ""
        raise ResourceError(f"unknown kind {kind_name} in Kubernetes API {api_version}{hint}")
    return Kind(group, kind_name, (version,), namespaced=True, modelled=False)


def _closest(name: str, candidates: Iterable[Kind]) -> str | None:
    return _closest_name(name, [candidate.kind for candidate in candidates])


def _closest_name(name: str, candidates: Iterable[str]) -> str | None:
    lowered = name.lower()
    for candidate in sorted(candidates):
        if candidate.lower() == lowered or _edit_distance(candidate.lower(), lowered) <= 2:
            return candidate
    return None


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _string_map(metadata: Mapping[str, Any], field_name: str, kind_name: str, name: str) -> Mapping[str, str]:
    value = metadata.get(field_name)
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise ResourceError(f"{kind_name} {name}: metadata.{field_name}: must be a mapping of strings")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise ResourceError(
                f"{kind_name} {name}: metadata.{field_name}.{key}: values must be strings, found "
                f"{type(item).__name__} {item!r}; quote it"
            )
    return MappingProxyType(dict(value))
