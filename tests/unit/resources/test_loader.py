from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from mesh_runtime.resources import InputNotFoundError, load_paths, load_text
from mesh_runtime.resources import loader as loader_module
from mesh_runtime.resources.kinds import GATEWAY, VIRTUAL_SERVICE

VS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_field_lines_follow_the_file(istio_reference: Path) -> None:
    result = load_paths([str(istio_reference / "bookinfo/networking/bookinfo-gateway.yaml")])
    assert not result.errors
    gateway, service = result.resources
    assert gateway.kind == GATEWAY and service.kind == VIRTUAL_SERVICE
    assert gateway.source is not None and service.source is not None
    assert gateway.source.line == 1
    assert gateway.source.line_of("{.spec.selector.istio}") == 9
    assert service.source.line == 18
    assert service.source.line_of("{.spec.http[0].route[0].destination.host}") == 41
    assert service.source.line_of("{.spec.gateways[0]}") == 26
    # a field that is not there falls back to the document's first line
    assert service.source.line_of("{.spec.tcp[0]}") == 18


def test_a_leading_comment_is_where_the_document_starts() -> None:
    text = "# reviews, version 1\n\n" + VS
    (resource,) = load_text(text, "vs.yaml").resources
    assert resource.source is not None
    assert resource.source.line == 1
    assert resource.source.line_of("{.spec.http[0].route[0].destination.subset}") == 14


def test_separators_and_blank_lines_are_skipped() -> None:
    text = "---\n\n---\n" + VS + "---\n" + VS.replace("reviews", "ratings")
    result = load_text(text, "two.yaml")
    assert [r.name for r in result.resources] == ["reviews", "ratings"]
    first, second = (r.source for r in result.resources)
    assert first is not None and second is not None
    assert first.line == 4
    assert first.line_of("{.spec.hosts[0]}") == 10
    assert second.line == 17
    assert second.line_of("{.spec.hosts[0]}") == 23


def test_list_items_have_their_own_lines() -> None:
    text = textwrap.dedent(
        """\
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: Service
          metadata:
            name: a
          spec:
            ports:
            - port: 80
        - apiVersion: v1
          kind: Service
          metadata:
            name: b
        """
    )
    a, b = load_text(text, "list.yaml").resources
    assert a.source is not None and b.source is not None
    assert (a.source.line, b.source.line) == (4, 11)
    assert a.source.line_of("{.spec.ports[0].port}") == 10


def test_json_files_are_read_with_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gw.json",
        '{\n "apiVersion": "networking.istio.io/v1",\n "kind": "Gateway",\n'
        ' "metadata": {"name": "gw"},\n "spec": {"selector": {"istio": "ingressgateway"}}\n}\n',
    )
    (gateway,) = load_paths([str(path)]).resources
    assert gateway.name == "gw"
    assert gateway.source is not None and gateway.source.line_of("{.spec.selector.istio}") == 5


def test_directories_are_walked_recursively_and_other_files_skipped(tmp_path: Path) -> None:
    write(tmp_path, "a/b/vs.yaml", VS)
    write(tmp_path, "a/notes.txt", "not config")
    write(tmp_path, "c.yml", VS.replace("reviews", "ratings"))
    result = load_paths([str(tmp_path)])
    assert sorted(r.name for r in result.resources) == ["ratings", "reviews"]
    assert result.skipped_files == [str(tmp_path / "a" / "notes.txt")]


def test_stdin_is_read_for_dash() -> None:
    result = load_paths(["-"], io.StringIO(VS))
    (resource,) = result.resources
    assert resource.source is not None and resource.source.reference("{.spec.hosts[0]}") == "-:7"


def test_a_missing_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError, match="nope.yaml"):
        load_paths([str(tmp_path / "nope.yaml")])


def test_timestamps_stay_strings() -> None:
    text = VS.replace("  name: reviews\n", "  name: reviews\n  annotations:\n    created: 2024-01-01\n")
    (resource,) = load_text(text, "vs.yaml").resources
    assert resource.annotations["created"] == "2024-01-01"


def test_namespaces_of_cluster_scoped_kinds_are_cleared() -> None:
    text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n  namespace: other\n"
    (namespace,) = load_text(text, "ns.yaml").resources
    assert namespace.namespace == "" and namespace.friendly_name == "Namespace prod"


def test_kinds_the_mesh_does_not_know_are_left_alone() -> None:
    text = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: bookinfo-details\n"
    result = load_text(text, "sa.yaml")
    assert not result.errors and not result.resources
    assert [r.name for r in result.ignored] == ["bookinfo-details"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("kind: VirtualService\nmetadata: {name: a}\n", 1, "missing apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", 1, "missing kind"),
        ("- a\n- b\n", 1, "found a list"),
        ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nspec: {}\n", 1, "metadata: required"),
        (
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: a\n  labels:\n"
            "    version: 1\n",
            1,
            "metadata.labels.version: values must be strings, found int 1; quote it",
        ),
        (
            "apiVersion: networking.istio.io/v1\nkind: VirtualServise\nmetadata: {name: a}\n",
            1,
            "unknown kind VirtualServise in networking.istio.io (known kinds: VirtualService, "
            "DestinationRule, Gateway, ServiceEntry, Sidecar, EnvoyFilter, WorkloadEntry, WorkloadGroup, "
            "ProxyConfig); did you mean VirtualService?",
        ),
        (
            "apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\n",
            1,
            "apiVersion networking.istio.io/v2 is not served for VirtualService; use one of: "
            "networking.istio.io/v1, networking.istio.io/v1beta1, networking.istio.io/v1alpha3",
        ),
        (
            "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: a}\n",
            1,
            "unknown kind Deploymnet in Kubernetes API apps/v1; did you mean Deployment?",
        ),
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: [oops\n", 4, "invalid YAML"),
        ("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n\tspec: {}\n", 5, "invalid YAML"),
        ("a: !!python/object:os.system {}\n", 1, "invalid YAML"),
    ],
)
def test_bad_documents_are_errors_naming_file_and_line(text: str, line: int, message: str) -> None:
    result = load_text(text, "bad.yaml")
    assert not result.resources
    (error,) = result.errors
    assert error.path == "bad.yaml"
    assert error.line == line
    assert message in error.message
    assert str(error).startswith(f"bad.yaml:{line}: ")


def test_a_bad_document_does_not_hide_the_good_ones() -> None:
    text = VS + "---\nkind: [\n---\n" + VS.replace("reviews", "ratings")
    result = load_text(text, "mixed.yaml")
    assert [r.name for r in result.resources] == ["reviews", "ratings"]
    (error,) = result.errors
    assert error.line == 14


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "\n".join(
        "  " + line for line in lines
    )
    result = load_text(text, "bomb.yaml")
    assert not result.resources
    (error,) = result.errors
    assert "expands to more than" in error.message


def test_deep_nesting_is_refused_without_a_traceback() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: " + "[" * 5000 + "]" * 5000 + "\n"
    result = load_text(text, "deep.yaml")
    assert not result.resources
    (error,) = result.errors
    assert error.path == "deep.yaml"


def test_binary_and_non_utf8_files_are_refused(tmp_path: Path) -> None:
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"apiVersion: v1\x00\x01")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"kind: Caf\xe9\n")
    result = load_paths([str(nul), str(latin)])
    messages = [str(e) for e in result.errors]
    assert messages == [
        f"{nul}: the file contains NUL bytes; it is not YAML or JSON text",
        f"{latin}: not UTF-8 text (invalid byte at offset 9)",
    ]


def test_oversized_files_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader_module, "MAX_FILE_BYTES", 100)
    path = write(tmp_path, "big.yaml", VS)
    (error,) = load_paths([str(path)]).errors
    assert "more than the 100 this tool reads" in error.message
