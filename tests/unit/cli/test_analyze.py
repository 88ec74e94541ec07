from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import MeshctlRunner
from tests.ports import unused_address

FILES_ONLY = "--use-kube=false"
ORPHAN_GATEWAY = """\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: orphan
spec:
  selector:
    app: nothing
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
"""
GOOD_GATEWAY = ORPHAN_GATEWAY.replace("orphan", "good").replace("app: nothing", "istio: ingressgateway")
PORT_WARNING_GATEWAY = GOOD_GATEWAY.replace("number: 80", "number: 8080").replace("good", "odd")
ORPHAN_LINE = 'Error [IST0101] (Gateway default/orphan {path}:7) Referenced selector not found: "app=nothing"'


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_issues_are_printed_and_exit_79(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "gw.yaml", ORPHAN_GATEWAY)
    result = meshctl("analyze", FILES_ONLY, path)
    assert result.code == 79
    assert result.lines == [ORPHAN_LINE.format(path=path)]
    assert result.stderr == (
        "Error: Analyzers found issues when analyzing namespace: default.\n"
        "See https://istio.io/v1.32/docs/reference/config/analysis for more information about causes "
        "and resolutions.\n"
    )


def test_no_issues_prints_the_check_line_on_stderr(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "gw.yaml", GOOD_GATEWAY)
    result = meshctl("analyze", FILES_ONLY, path)
    assert (result.code, result.stdout) == (0, "\n")
    assert result.stderr == f"\u2714 No validation issues found when analyzing {path}.\n"

    other = write(tmp_path, "gw2.yaml", GOOD_GATEWAY.replace("good", "fine"))
    result = meshctl("analyze", FILES_ONLY, path, other)
    assert result.stderr == f"\u2714 No validation issues found when analyzing:\n  - {path}\n  - {other}\n"


def test_thresholds(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "gw.yaml", PORT_WARNING_GATEWAY)
    warned = meshctl("analyze", FILES_ONLY, path)
    assert warned.code == 0 and warned.lines[0].startswith("Warning [IST0162] (Gateway default/odd ")
    strict = meshctl("analyze", FILES_ONLY, "--failure-threshold", "warning", path)
    assert strict.code == 79
    hidden = meshctl(
        "analyze", FILES_ONLY, "--output-threshold", "Error", "--failure-threshold", "Warning", path
    )
    assert hidden.stdout == "\n"
    assert hidden.code == 79
    assert hidden.stderr.startswith("\u2714 No validation issues found")


def test_json_and_yaml_output_exit_79_too(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "gw.yaml", ORPHAN_GATEWAY)
    as_json = meshctl("analyze", FILES_ONLY, "-o", "json", path)
    assert as_json.code == 79
    assert as_json.stdout.startswith('[\n\t{\n\t\t"code": "IST0101",')
    assert json.loads(as_json.stdout) == [
        {
            "code": "IST0101",
            "documentationUrl": "https://istio.io/v1.32/docs/reference/config/analysis/ist0101/"
            "?ref=istioctl-analyze",
            "level": "Error",
            "message": 'Referenced selector not found: "app=nothing"',
            "origin": "Gateway default/orphan",
            "reference": f"{path}:7",
        }
    ]
    as_yaml = meshctl("analyze", FILES_ONLY, "-o", "YAML", path)
    assert as_yaml.code == 79
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    empty = meshctl("analyze", FILES_ONLY, "-o", "json", write(tmp_path, "ok.yaml", GOOD_GATEWAY))
    assert (empty.code, empty.stdout) == (0, "[]\n")


def test_unparseable_files_exit_65_unless_ignored(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "mixed.yaml", GOOD_GATEWAY + "---\nkind: [\n")
    result = meshctl("analyze", FILES_ONLY, path)
    assert result.code == 65
    assert f"  {path}:12: invalid YAML: " in result.stderr
    assert result.stderr.endswith(
        f"No validation issues found when analyzing {path} (but 1 file could not be parsed).\n"
        "Error: Some files couldn't be parsed.\n"
    )
    assert meshctl("analyze", FILES_ONLY, "--ignore-unknown", path).code == 0
    # issues at the threshold win over parse errors
    both = write(tmp_path, "both.yaml", ORPHAN_GATEWAY + "---\nkind: [\n")
    assert meshctl("analyze", FILES_ONLY, both).code == 79


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-o", "xml"], "invalid output format 'xml': use log, json or yaml"),
        (["--failure-threshold", "fatal"], "--failure-threshold: 'fatal' is not a level"),
        (["-S", "IST0101"], "--suppress: IST0101 is not a valid suppression value"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_usage_errors_exit_64(meshctl: MeshctlRunner, tmp_path: Path, argv: list[str], message: str) -> None:
    result = meshctl("analyze", FILES_ONLY, *argv, write(tmp_path, "gw.yaml", GOOD_GATEWAY))
    assert result.code == 64
    assert result.stderr.startswith("Error: ") and message in result.stderr


def test_a_missing_path_exits_1_naming_it(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    result = meshctl("analyze", FILES_ONLY, str(tmp_path / "nope.yaml"))
    assert result.code == 1
    assert result.stderr == f"Error: {tmp_path / 'nope.yaml'}: no such file or directory\n"


def test_live_mesh_analysis_says_how_to_analyze_files(
    meshctl: MeshctlRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens here, whether or not a mesh runs on this machine's default ports.
    monkeypatch.setenv("MESHCTL_CONTROL_PLANE", unused_address())
    result = meshctl("analyze", write(tmp_path, "gw.yaml", GOOD_GATEWAY))
    assert result.code == 1
    assert "pass --use-kube=false to analyze files only" in result.stderr


def test_stdin_and_suppress_and_unknown_code(meshctl: MeshctlRunner) -> None:
    result = meshctl("analyze", FILES_ONLY, "-", stdin=ORPHAN_GATEWAY)
    assert result.lines == [ORPHAN_LINE.format(path="-")]
    quiet = meshctl(
        "analyze", FILES_ONLY, "-S", "IST0101=Gateway default/*", "-S", "IST9999=*", "-", stdin=ORPHAN_GATEWAY
    )
    assert quiet.code == 0
    assert (
        "Warning: Supplied message code 'IST9999' is an unknown message code and will not have any effect.\n"
        in quiet.stderr
    )


def test_namespace_flags(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "gw.yaml", ORPHAN_GATEWAY)
    elsewhere = meshctl("analyze", FILES_ONLY, "-n", "prod", path)
    assert elsewhere.lines == [ORPHAN_LINE.format(path=path).replace("default/orphan", "prod/orphan")]
    everywhere = meshctl("analyze", FILES_ONLY, "-A", path)
    assert everywhere.lines == [ORPHAN_LINE.format(path=path).replace("default/orphan", "orphan")]
    assert everywhere.stderr.startswith("Error: Analyzers found issues when analyzing all namespaces.")


def test_color_wraps_the_level_only(meshctl: MeshctlRunner, tmp_path: Path) -> None:
    result = meshctl("analyze", FILES_ONLY, "--color", write(tmp_path, "gw.yaml", ORPHAN_GATEWAY))
    assert result.stdout.startswith("\033[1;31mError\033[0m [IST0101] (Gateway default/orphan ")


def test_list_analyzers(meshctl: MeshctlRunner) -> None:
    result = meshctl("analyze", "-L")
    assert result.code == 0
    assert (
        "* gateway.IngressGatewayPortAnalyzer:\n"
        "    Checks a gateway's ports against the gateway's Kubernetes service ports\n" in result.stdout
    )


def test_hostile_input_gets_a_message_not_a_traceback(meshctl_process: MeshctlRunner, tmp_path: Path) -> None:
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata:\n" + "\n".join("  " + b for b in bomb)
    )
    deep = tmp_path / "deep.yaml"
    deep.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: " + "[" * 20000 + "]" * 20000
    )
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    result = meshctl_process("analyze", FILES_ONLY, str(path), str(deep), str(binary), timeout=60)
    assert result.code == 65
    assert "Traceback" not in result.stderr
    assert f"{path}:1: the document expands to more than" in result.stderr
    assert f"{deep}:4: invalid YAML: " in result.stderr
    assert f"{binary}: " in result.stderr
