"""plugins/module_utils/meshctl.py: arguments, parsing, exit statuses, thresholds and versions.

The pure functions get recorded meshctl output; the module-level functions run the real meshctl.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.meshlab.mesh.plugins.module_utils import (
    analyze,
    config_api,
    messages,
    runner,
    version,
)

FILES = Path(__file__).resolve().parents[3] / "integration" / "plugins" / "modules" / "files"


def message(
    level: str, code: str = "IST0000", origin: str = "", reference: str = "", text: str = "t"
) -> dict[str, Any]:
    found: dict[str, Any] = {"code": code, "level": level, "message": text, "documentationUrl": "u"}
    if origin:
        found["origin"] = origin
    if reference:
        found["reference"] = reference
    return found


ERROR = message(
    "Error", "IST0101", "VirtualService default/shop", "vs.yaml:12", 'Referenced gateway not found: "gw"'
)
WARNING = message("Warning", "IST0162", "Gateway default/gw", "gw.yaml:9", "The gateway is listening on 8080")
INFO = message("Info", "IST0118", "Service shop/shop", "svc.yaml:13", "Port name shopping is unconventional")
MIXED = [ERROR, WARNING, INFO]


def analyze_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "files": ["a.yaml"],
        "namespace": None,
        "all_namespaces": False,
        "use_kube": False,
        "failure_threshold": "Error",
        "output_threshold": "Info",
        "suppress": [],
        "analyzers": [],
        "mesh_config_file": None,
        "ignore_unknown": False,
        "meshctl_path": None,
    }
    params.update(overrides)
    return params


# Levels and messages --------------------------------------------------------------------------------------


def test_levels_rank_from_info_to_error_and_unknown_ranks_highest() -> None:
    assert (
        messages.level_rank("Info")
        < messages.level_rank("Warning")
        < messages.level_rank("Error")
        < messages.level_rank("Fatal")
    )


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [("Info", [ERROR, WARNING, INFO]), ("Warning", [ERROR, WARNING]), ("Error", [ERROR])],
)
def test_at_or_above_keeps_messages_at_the_threshold_and_above(threshold: str, expected: list[Any]) -> None:
    assert messages.at_or_above(MIXED, threshold) == expected


def test_counts_have_every_level_even_at_zero() -> None:
    assert messages.count_by_level([]) == {"Error": 0, "Warning": 0, "Info": 0}
    assert messages.count_by_level([WARNING, WARNING, INFO]) == {"Error": 0, "Warning": 2, "Info": 1}


def test_counts_keep_a_level_meshctl_does_not_define() -> None:
    assert messages.count_by_level([message("Fatal"), {"code": "X"}]) == {
        "Error": 0,
        "Warning": 0,
        "Info": 0,
        "Fatal": 1,
        "Unknown": 1,
    }


def test_a_message_reads_like_meshctls_log_line() -> None:
    assert messages.describe_message(ERROR) == (
        'Error [IST0101] (VirtualService default/shop vs.yaml:12) Referenced gateway not found: "gw"'
    )
    assert (
        messages.describe_message(message("Info", "IST0001", text="no origin")) == "Info [IST0001] no origin"
    )


def test_describing_many_messages_quotes_the_first_and_counts_the_rest() -> None:
    lines = messages.describe_messages([WARNING] * 7).splitlines()
    assert len(lines) == runner.QUOTED_MESSAGES + 1
    assert lines[-1] == "... and 2 more (see messages in the result)"


def test_parse_messages_reads_meshctls_json() -> None:
    assert messages.parse_messages(json.dumps(MIXED, indent="\t") + "\n") == MIXED
    assert messages.parse_messages("") == []
    assert messages.parse_messages("[]\n") == []


@pytest.mark.parametrize(
    ("stdout", "complaint"),
    [
        ("Error [IST0101] (VirtualService x) ...", "not JSON"),
        ('{"code": "IST0101"}', "not a list of messages"),
        ('["IST0101"]', "not a list of messages"),
    ],
)
def test_parse_messages_rejects_other_output(stdout: str, complaint: str) -> None:
    with pytest.raises(runner.MeshctlError, match=complaint) as caught:
        messages.parse_messages(stdout)
    assert caught.value.result["stdout"] == stdout


@pytest.mark.parametrize("bad", ["IST0103", "=Pod *", "IST0103=", " = "])
def test_a_malformed_suppression_is_named_by_its_index(bad: str) -> None:
    with pytest.raises(runner.MeshctlError, match=r"^suppress\[2\]: .* is not CODE=PATTERN"):
        messages.check_suppression(bad, 2)


# Exit statuses and stderr ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rc", "expected"),
    [
        (64, "meshctl analyze rejected its arguments (exit 64, incorrect usage): Error: bad flag"),
        (65, "meshctl analyze could not parse some files (exit 65): Error: bad flag Fix them, or set"),
        (1, "meshctl analyze failed (exit 1): Error: bad flag"),
        (-9, "meshctl analyze was killed by signal 9: Error: bad flag"),
        (2, "meshctl analyze exited with status 2: Error: bad flag"),
    ],
)
def test_each_exit_status_gets_its_own_message_with_stderr(rc: int, expected: str) -> None:
    assert runner.exit_failure("meshctl analyze", rc, "Error: bad flag\n").startswith(expected)


def test_an_exit_without_stderr_says_so() -> None:
    assert (
        runner.exit_failure("meshctl version", 1, "\n")
        == "meshctl version failed (exit 1): (nothing on stderr)"
    )


def test_stderr_warnings_pick_what_a_user_must_see() -> None:
    stderr = (
        "Warning: Supplied message code 'IST9999' is an unknown message code and will not have any effect.\n"
        "Skipping file notes.txt, recognized file extensions are: [.json .yaml .yml]\n"
        "Error(s) adding files:\n"
        "  broken.yaml:4: invalid YAML (skipped)\n"
        "  other.yaml:1: not a mapping (skipped)\n"
        "Error: Some files couldn't be parsed.\n"
        "\u2714 No validation issues found when analyzing namespace: default.\n"
    )
    assert runner.stderr_warnings(stderr) == [
        "Warning: Supplied message code 'IST9999' is an unknown message code and will not have any effect.",
        "Skipping file notes.txt, recognized file extensions are: [.json .yaml .yml]",
        "some files could not be parsed and were not analyzed: "
        "broken.yaml:4: invalid YAML (skipped); other.yaml:1: not a mapping (skipped)",
    ]
    assert runner.stderr_warnings("") == []


# analyze --------------------------------------------------------------------------------------------------


def test_analyze_command_defaults() -> None:
    assert analyze.analyze_command("/bin/meshctl", analyze_params()) == [
        "/bin/meshctl",
        "analyze",
        "--use-kube=false",
        "-o",
        "json",
        "--output-threshold",
        "Info",
        "--failure-threshold",
        "Error",
        "--",
        "a.yaml",
    ]


def test_analyze_command_passes_every_option() -> None:
    params = analyze_params(
        files=["a.yaml", "-dash.yaml"],
        namespace="shop",
        use_kube=True,
        failure_threshold="Warning",
        output_threshold="Error",
        suppress=["IST0103=Pod testing/*", "IST0162=Gateway *"],
        analyzers=["gateway.IngressGatewayPortAnalyzer"],
        mesh_config_file="/etc/mesh.yaml",
        ignore_unknown=True,
    )
    command = analyze.analyze_command("meshctl", params)
    assert command[2] == "--use-kube=true"
    assert command[command.index("--failure-threshold") + 1] == "Warning"
    assert command[command.index("--output-threshold") + 1] == "Info"  # applied by the module, not meshctl
    assert command[command.index("--namespace") + 1] == "shop"
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--suppress"] == params["suppress"]
    assert command[command.index("--analyzer") + 1] == "gateway.IngressGatewayPortAnalyzer"
    assert command[command.index("--meshConfigFile") + 1] == "/etc/mesh.yaml"
    assert "--ignore-unknown" in command
    assert command[-3:] == ["--", "a.yaml", "-dash.yaml"]  # a file named like a flag stays a file


def test_analyze_command_all_namespaces() -> None:
    command = analyze.analyze_command("meshctl", analyze_params(all_namespaces=True))
    assert "--all-namespaces" in command
    assert "--namespace" not in command


def test_analyze_command_without_files_for_the_live_mesh() -> None:
    assert analyze.analyze_command("meshctl", analyze_params(files=[], use_kube=True))[-1] == "Error"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"files": []}, "files: give at least one file or directory to analyze (use_kube is false)"),
        ({"files": ["a.yaml", "gone.yaml"]}, "files[1]: gone.yaml does not exist on the managed host"),
        ({"mesh_config_file": "gone.yaml"}, "mesh_config_file: gone.yaml does not exist on the managed host"),
        ({"namespace": "shop", "all_namespaces": True}, "namespace and all_namespaces exclude each other"),
    ],
)
def test_analyze_params_are_checked_before_running_meshctl(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(runner.MeshctlError) as caught:
        analyze.check_analyze_params(analyze_params(**overrides), exists=lambda path: path != "gone.yaml")
    assert caught.value.msg.startswith(complaint)


def test_analyze_params_that_are_fine_pass() -> None:
    analyze.check_analyze_params(analyze_params(files=[], use_kube=True), exists=lambda path: False)
    analyze.check_analyze_params(analyze_params(namespace="shop"), exists=lambda path: True)


def test_messages_under_the_threshold_are_returned() -> None:
    result = analyze.interpret_analysis(0, json.dumps([WARNING, INFO]), "", analyze_params())
    assert result == {
        "messages": [WARNING, INFO],
        "counts": {"Error": 0, "Warning": 1, "Info": 1},
        "issues": True,
        "rc": 0,
        "stderr": "",
    }


def test_no_messages_means_no_issues() -> None:
    result = analyze.interpret_analysis(0, "[]\n", "\u2714 No validation issues found\n", analyze_params())
    assert result["issues"] is False
    assert result["counts"] == {"Error": 0, "Warning": 0, "Info": 0}


def test_output_threshold_filters_messages_but_counts_cover_every_level() -> None:
    result = analyze.interpret_analysis(
        0, json.dumps([WARNING, INFO]), "", analyze_params(output_threshold="Warning")
    )
    assert result["messages"] == [WARNING]
    assert result["counts"] == {"Error": 0, "Warning": 1, "Info": 1}


def test_messages_at_the_failure_threshold_fail_and_are_quoted() -> None:
    with pytest.raises(runner.MeshctlError) as caught:
        analyze.interpret_analysis(79, json.dumps(MIXED), "Error: Analyzers found issues", analyze_params())
    failure = caught.value
    assert failure.msg == (
        "meshctl analyze found 1 message at or above Error (failure_threshold):\n"
        + messages.describe_message(ERROR)
    )
    assert failure.result["messages"] == MIXED
    assert failure.result["counts"] == {"Error": 1, "Warning": 1, "Info": 1}
    assert failure.result["rc"] == 79


def test_a_lower_failure_threshold_counts_more_messages() -> None:
    with pytest.raises(runner.MeshctlError, match="found 2 messages at or above Warning"):
        analyze.interpret_analysis(79, json.dumps(MIXED), "", analyze_params(failure_threshold="Warning"))


def test_messages_at_the_threshold_fail_even_if_meshctl_exits_0() -> None:
    with pytest.raises(runner.MeshctlError, match="found 1 message at or above Error"):
        analyze.interpret_analysis(0, json.dumps([ERROR]), "", analyze_params())


def test_exit_79_fails_even_when_the_messages_were_not_printed() -> None:
    with pytest.raises(runner.MeshctlError) as caught:
        analyze.interpret_analysis(
            79, "[]", "Error: Analyzers found issues when analyzing namespace: default.", {}
        )
    assert caught.value.msg == (
        "meshctl analyze found issues at or above Error (failure_threshold): "
        "Error: Analyzers found issues when analyzing namespace: default."
    )


def test_unparseable_files_fail_with_meshctls_stderr_and_the_other_files_messages() -> None:
    stderr = "\n".join(
        [
            "Error(s) adding files:",
            "  broken.yaml:4: invalid YAML (skipped)",
            "Error: Some files couldn't be parsed.",
        ]
    )
    with pytest.raises(runner.MeshctlError) as caught:
        analyze.interpret_analysis(65, json.dumps([WARNING]), stderr, analyze_params())
    assert "could not parse some files (exit 65)" in caught.value.msg
    assert "broken.yaml:4: invalid YAML" in caught.value.msg
    assert caught.value.result["messages"] == [WARNING]


@pytest.mark.parametrize("rc", [1, 64, 127])
def test_meshctl_failures_fail_with_stderr(rc: int) -> None:
    with pytest.raises(runner.MeshctlError) as caught:
        analyze.interpret_analysis(rc, "", "Error: something specific\n", analyze_params())
    assert "Error: something specific" in caught.value.msg
    assert caught.value.result == {"rc": rc, "stderr": "Error: something specific\n", "stdout": ""}


# version --------------------------------------------------------------------------------------------------

CLIENT = {
    "version": "0.1.0",
    "revision": "meshlab",
    "python_version": "3.11.2",
    "status": "Clean",
    "tag": "0.1.0",
}


def report(control_plane: list[str] | None = None, proxies: list[str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"clientVersion": dict(CLIENT)}
    if control_plane is not None:
        found["meshVersion"] = [
            {"Component": f"meshd-{i}", "Revision": "default", "Info": {"version": v}}
            for i, v in enumerate(control_plane)
        ]
    if proxies is not None:
        found["dataPlaneVersion"] = [
            {"ID": f"p{i}.default", "IstioVersion": v, "Type": "sidecar"} for i, v in enumerate(proxies)
        ]
    return found


def test_version_command() -> None:
    assert version.version_command("meshctl", {"remote": False, "control_plane": "cp:15014"}) == [
        "meshctl",
        "version",
        "-o",
        "json",
        "--remote=false",
    ]
    assert version.version_command("meshctl", {"remote": True, "control_plane": "cp:15014"})[-3:] == [
        "--remote=true",
        "--control-plane",
        "cp:15014",
    ]


@pytest.mark.parametrize(
    ("stdout", "complaint"),
    [
        ("client version: 0.1.0", "not JSON"),
        ("[]", "not an object"),
        ('{"meshVersion": []}', "without a clientVersion"),
        ('{"clientVersion": "0.1"}', "without"),
    ],
)
def test_parse_version_report_rejects_other_output(stdout: str, complaint: str) -> None:
    with pytest.raises(runner.MeshctlError, match=complaint):
        version.parse_version_report(stdout)


def test_versions_without_a_control_plane() -> None:
    assert version.summarize_versions(report()) == {
        "client_version": "0.1.0",
        "control_plane_present": False,
        "control_plane_versions": [],
        "data_plane_versions": [],
        "skew": False,
    }


def test_versions_with_a_control_plane_and_proxies() -> None:
    summary = version.summarize_versions(report(["0.1.0"], ["0.1.0", "0.0.9", "0.1.0"]))
    assert summary["control_plane_present"] is True
    assert summary["control_plane_versions"] == [
        {"component": "meshd-0", "revision": "default", "version": "0.1.0"}
    ]
    assert summary["data_plane_versions"] == [
        {"version": "0.0.9", "count": 1},
        {"version": "0.1.0", "count": 2},
    ]
    assert summary["skew"] is True


def test_a_control_plane_without_proxies_is_present_and_in_step() -> None:
    summary = version.summarize_versions(report([], []))
    assert summary["control_plane_present"] is True
    assert summary["skew"] is False


@pytest.mark.parametrize(
    ("control_plane", "proxies", "expected_version", "fail_on_skew", "problems"),
    [
        (None, None, "0.1.0", True, []),
        (None, None, "0.2.0", False, ["expected_version is 0.2.0 but meshctl is 0.1.0"]),
        (["0.2.0"], None, "0.1.0", False, ["expected_version is 0.1.0 but meshd-0 is 0.2.0"]),
        (["0.1.0"], ["0.0.9"], "0.1.0", False, []),  # proxies are not compared with expected_version
        (["0.1.0"], ["0.0.9"], None, False, []),  # skew fails only when asked
        (
            ["0.1.0"],
            ["0.0.9"],
            None,
            True,
            ["versions differ (fail_on_skew): meshctl 0.1.0, meshd-0 0.1.0, 1 proxy at 0.0.9"],
        ),
        (
            ["0.2.0"],
            None,
            "0.3.0",
            True,
            [
                "expected_version is 0.3.0 but meshctl is 0.1.0, meshd-0 is 0.2.0",
                "versions differ (fail_on_skew): meshctl 0.1.0, meshd-0 0.2.0",
            ],
        ),
    ],
)
def test_version_problems(
    control_plane: list[str] | None,
    proxies: list[str] | None,
    expected_version: str | None,
    fail_on_skew: bool,
    problems: list[str],
) -> None:
    summary = version.summarize_versions(report(control_plane, proxies))
    assert version.version_problems(summary, expected_version, fail_on_skew) == problems


def test_interpret_version_fails_with_the_problems_and_keeps_the_result() -> None:
    stdout = json.dumps(report(["0.2.0"]))
    with pytest.raises(runner.MeshctlError) as caught:
        version.interpret_version(0, stdout, "", {"expected_version": "0.2.0", "fail_on_skew": True})
    assert caught.value.msg == (
        "expected_version is 0.2.0 but meshctl is 0.1.0; "
        "versions differ (fail_on_skew): meshctl 0.1.0, meshd-0 0.2.0"
    )
    assert caught.value.result["raw"] == json.loads(stdout)
    assert caught.value.result["skew"] is True


def test_interpret_version_fails_when_meshctl_does() -> None:
    with pytest.raises(runner.MeshctlError, match=r"meshctl version rejected its arguments \(exit 64"):
        version.interpret_version(64, "", "Error: --output must be 'yaml' or 'json'", {})


# Finding and running meshctl ------------------------------------------------------------------------------


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def module() -> AnsibleModule:
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH and an empty default virtualenv."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(runner, "DEFAULT_VENV_BIN", str(tmp_path / "venv-bin"))
    return empty


def test_meshctl_path_as_a_path_is_used_as_is(module: AnsibleModule, tmp_path: Path) -> None:
    tool = executable(tmp_path / "my-meshctl")
    assert runner.find_meshctl(module, str(tool)) == str(tool)


def test_meshctl_path_that_is_not_executable_is_refused(module: AnsibleModule, tmp_path: Path) -> None:
    plain = tmp_path / "meshctl"
    plain.write_text("")
    with pytest.raises(runner.MeshctlError, match=f"meshctl_path: {plain} is not an executable file"):
        runner.find_meshctl(module, str(plain))


def test_meshctl_is_found_on_path(module: AnsibleModule, nowhere: Path) -> None:
    tool = executable(nowhere / "meshctl")
    assert runner.find_meshctl(module) == str(tool)


def test_a_meshctl_path_name_is_looked_up_on_path(module: AnsibleModule, nowhere: Path) -> None:
    tool = executable(nowhere / "meshctl-dev")
    assert runner.find_meshctl(module, "meshctl-dev") == str(tool)


def test_meshctl_is_found_in_the_default_virtualenv(module: AnsibleModule, nowhere: Path) -> None:
    venv_bin = Path(runner.DEFAULT_VENV_BIN)
    venv_bin.mkdir()
    tool = executable(venv_bin / "meshctl")
    assert runner.find_meshctl(module) == str(tool)


def test_the_installed_meshctl_comes_before_one_on_path(module: AnsibleModule, nowhere: Path) -> None:
    Path(runner.DEFAULT_VENV_BIN).mkdir()
    installed = executable(Path(runner.DEFAULT_VENV_BIN) / "meshctl")
    executable(nowhere / "meshctl")
    assert runner.find_meshctl(module) == str(installed)
    chosen = executable(nowhere / "chosen-meshctl")
    assert runner.find_meshctl(module, str(chosen)) == str(chosen)  # an explicit path still wins


def test_a_missing_meshctl_says_where_it_looked(module: AnsibleModule, nowhere: Path) -> None:
    with pytest.raises(runner.MeshctlError) as caught:
        runner.find_meshctl(module)
    assert caught.value.msg == (
        f"meshctl was not found in {runner.DEFAULT_VENV_BIN} nor on PATH on the managed host: "
        "install the runtime (playbooks/site.yml) or set meshctl_path"
    )


def test_meshd_is_found_beside_the_chosen_meshctl_then_installed_then_on_path(
    module: AnsibleModule, nowhere: Path, tmp_path: Path
) -> None:
    on_path = executable(nowhere / "meshd")
    assert runner.find_meshd(module) == str(on_path)
    Path(runner.DEFAULT_VENV_BIN).mkdir()
    installed = executable(Path(runner.DEFAULT_VENV_BIN) / "meshd")
    assert runner.find_meshd(module) == str(installed)
    venv = tmp_path / "other-venv"
    venv.mkdir()
    meshctl = executable(venv / "meshctl")
    beside = executable(venv / "meshd")
    assert runner.find_meshd(module, meshctl_path=str(meshctl)) == str(beside)
    assert runner.find_meshd(module, str(on_path), str(meshctl)) == str(on_path)
    with pytest.raises(runner.MeshctlError, match="meshd_path: /nowhere/meshd is not an executable file"):
        runner.find_meshd(module, "/nowhere/meshd")


def real_meshctl() -> str:
    beside = Path(sys.executable).parent / "meshctl"
    if not (beside.exists() and os.access(beside, os.X_OK)):
        pytest.fail(f"the real meshctl is not installed beside {sys.executable}: run `make setup`")
    return str(beside)


def run_module(
    run: Any, args: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    """Run a module body in-process, as Ansible would, and return its exit status and JSON result."""
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        spec = {name: {"type": "raw"} for name in args}
        run(AnsibleModule(argument_spec=spec, supports_check_mode=True))
    code = exited.value.code
    return int(code) if code is not None else 0, json.loads(capsys.readouterr().out)


def test_run_analyze_with_the_real_meshctl(capsys: pytest.CaptureFixture[str]) -> None:
    args = analyze_params(
        files=[str(FILES / "gateway-port.yaml")],
        analyzers=["gateway.IngressGatewayPortAnalyzer"],
        meshctl_path=real_meshctl(),
    )
    code, result = run_module(analyze.run_analyze, args, capsys)
    assert code == 0
    assert result["changed"] is False
    assert [msg["code"] for msg in result["messages"]] == ["IST0162"]
    assert result["messages"][0]["reference"] == f"{FILES / 'gateway-port.yaml'}:10"
    assert result["command"][0] == real_meshctl()


def test_run_analyze_fails_at_the_threshold_with_the_real_meshctl(capsys: pytest.CaptureFixture[str]) -> None:
    args = analyze_params(
        files=[str(FILES / "gateway-port.yaml")],
        analyzers=["gateway.IngressGatewayPortAnalyzer"],
        failure_threshold="Warning",
        meshctl_path=real_meshctl(),
    )
    code, result = run_module(analyze.run_analyze, args, capsys)
    assert code == 1
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["msg"].startswith(
        "meshctl analyze found 1 message at or above Warning (failure_threshold):"
    )


def test_run_version_with_the_real_meshctl(capsys: pytest.CaptureFixture[str]) -> None:
    args = {"remote": False, "meshctl_path": real_meshctl(), "expected_version": None, "fail_on_skew": False}
    code, result = run_module(version.run_version, args, capsys)
    assert code == 0
    assert result["changed"] is False
    assert result["client_version"] == result["raw"]["clientVersion"]["version"] != ""
    assert result["control_plane_present"] is False


# The config API: resource and namespace ---------------------------------------------------------------------

DR = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "reviews"},
    "spec": {"host": "reviews"},
}


def result(
    name: str, outcome: str, kind: str = "DestinationRule", namespace: str = "default"
) -> dict[str, Any]:
    group = "" if kind in ("Namespace", "Service") else "networking.istio.io"
    return {"kind": kind, "group": group, "namespace": namespace, "name": name, "result": outcome}


def test_connection_flags_and_the_token_only_in_the_environment() -> None:
    params = {"control_plane": "cp:15080", "token": "s3cret", "ca_file": "/ca.pem", "data_dir": "/d"}
    assert config_api.config_api_flags(params) == [
        "--control-plane",
        "cp:15080",
        "--ca-file",
        "/ca.pem",
        "--data-dir",
        "/d",
    ]
    assert config_api.config_api_environment(params) == {**runner.ENVIRONMENT, "MESHCTL_TOKEN": "s3cret"}
    assert config_api.config_api_flags({"control_plane": None}) == []
    assert config_api.config_api_environment({}) == runner.ENVIRONMENT


def test_get_commands_name_the_kind_with_its_group_and_the_namespace() -> None:
    assert config_api.get_command("meshctl", {}, "DestinationRule", "networking.istio.io", "prod") == [
        "meshctl", "get", "DestinationRule.networking.istio.io", "-o", "json", "--namespace", "prod",
    ]  # fmt: skip
    assert config_api.get_command("meshctl", {}, "Namespace", "", "") == [
        "meshctl",
        "get",
        "Namespace",
        "-o",
        "json",
    ]


def test_apply_results_are_read_from_meshctls_json() -> None:
    stdout = json.dumps({"results": [result("reviews", "created")], "warnings": [], "dry_run": True})
    found = config_api.interpret_resources("apply")(0, stdout, "", {})
    assert found["results"] == [result("reviews", "created")]


def test_a_refused_input_fails_naming_file_line_resource_and_field_path() -> None:
    errors = [
        {
            "source": "rules.yaml",
            "line": 9,
            "resource": "DestinationRule default/reviews",
            "path": "spec.trafficPolicy.tls.mode",
            "message": 'spec.trafficPolicy.tls.mode: must be one of DISABLE, found "X"',
        },
        {
            "source": "-",
            "line": 2,
            "resource": "Namespace a",
            "path": "metadata.labels",
            "message": "bad key",
        },
    ]
    stdout = json.dumps({"errors": errors, "warnings": []})
    with pytest.raises(runner.MeshctlError) as caught:
        config_api.interpret_resources("apply")(
            65, stdout, "Error: nothing was applied", {"src": "rules.yaml"}
        )
    assert caught.value.msg == (
        "meshctl apply refused the src, nothing was changed:\n"
        "rules.yaml:9: DestinationRule default/reviews: "
        'spec.trafficPolicy.tls.mode: must be one of DISABLE, found "X"\n'
        "definition:2: Namespace a: metadata.labels: bad key"
    )
    assert caught.value.result["errors"] == errors


def test_a_refused_namespace_names_the_resource_without_a_location() -> None:
    errors = [
        {"source": "-", "line": 4, "resource": "Namespace n", "path": "metadata.labels", "message": "bad"}
    ]
    with pytest.raises(runner.MeshctlError) as caught:
        config_api.interpret_resources("apply", "namespace")(65, json.dumps({"errors": errors}), "", {})
    assert caught.value.msg == (
        "meshctl apply refused the namespace, nothing was changed:\nNamespace n: metadata.labels: bad"
    )


@pytest.mark.parametrize(
    ("rc", "stdout", "complaint"),
    [
        (1, "", r"meshctl apply failed \(exit 1\): Error: no control plane"),
        (0, "nonsense", "meshctl apply printed output that is not JSON"),
        (0, '{"results": 3}', "without a list of results"),
    ],
)
def test_apply_failures_are_explained(rc: int, stdout: str, complaint: str) -> None:
    with pytest.raises(runner.MeshctlError, match=complaint):
        config_api.interpret_resources("apply")(rc, stdout, "Error: no control plane (meshd) answered", {})


def test_a_listing_with_nothing_found_is_empty() -> None:
    assert config_api.interpret_listing(0, "", "No resources found in default namespace.\n", {}) == {
        "items": []
    }
    assert config_api.interpret_listing(0, json.dumps({"items": [DR]}), "", {}) == {"items": [DR]}
    with pytest.raises(runner.MeshctlError, match="meshctl get failed"):
        config_api.interpret_listing(1, "", "Error: boom", {})


def test_comparable_drops_server_metadata_and_status_without_touching_the_original() -> None:
    stored = {**DR, "metadata": {"name": "r", "resourceVersion": "4", "creationTimestamp": "t"}, "status": {}}
    assert config_api.comparable(stored) == {**DR, "metadata": {"name": "r"}}
    assert stored["metadata"]["resourceVersion"] == "4"
    assert config_api.comparable(None) is None


def test_a_diff_entry_per_changed_resource() -> None:
    key = ("DestinationRule", "default", "reviews")
    before = {key: {**DR, "metadata": {"name": "reviews", "resourceVersion": "1"}}}
    after = {key: {**DR, "spec": {"host": "reviews.prod"}}}
    (entry,) = config_api.resource_diff([result("reviews", "configured")], before, after)
    assert entry["before_header"] == entry["after_header"] == "DestinationRule default/reviews"
    assert "resourceVersion" not in entry["before"] and "host: reviews\n" in entry["before"]
    assert "host: reviews.prod\n" in entry["after"]
    (gone,) = config_api.resource_diff([result("ns", "deleted", kind="Namespace", namespace="")], {}, {})
    assert (gone["before_header"], gone["before"], gone["after"]) == ("Namespace ns", "", "")


@pytest.mark.parametrize(
    ("current", "labels", "changes"),
    [
        ({}, {"istio-injection": "enabled"}, {"istio-injection": "enabled"}),
        ({"istio-injection": "enabled"}, {"istio-injection": "enabled"}, {}),
        ({"istio-injection": "enabled"}, {"istio-injection": "disabled"}, {"istio-injection": "disabled"}),
        ({"istio-injection": "enabled", "team": "a"}, {"team": None}, {"team": None}),
        ({"istio-injection": "enabled"}, {"team": None}, {}),  # removing a label that is not there
        ({"managed": "true", "tier": "1"}, {"managed": True, "tier": 1}, {}),  # YAML's true and 1 as text
        ({}, {}, {}),
    ],
)
def test_namespace_changes_only_what_differs(
    current: dict[str, str], labels: dict[str, Any], changes: dict[str, str | None]
) -> None:
    assert config_api.namespace_changes(current, labels) == changes


def test_label_arguments_and_the_labels_after() -> None:
    changes = {"team": None, "istio-injection": "disabled"}
    assert config_api.label_arguments(changes) == ["istio-injection=disabled", "team-"]
    assert config_api.labelled({"istio-injection": "enabled", "team": "a", "x": "y"}, changes) == {
        "istio-injection": "disabled",
        "x": "y",
    }


def test_namespace_documents_and_bad_label_values() -> None:
    assert config_api.namespace_document("n", None) is None
    assert config_api.namespace_document("n", {}) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "n"},
    }
    assert config_api.namespace_document("n", {"b": "2", "a": "1"})["metadata"]["labels"] == {
        "a": "1",
        "b": "2",
    }
    with pytest.raises(runner.MeshctlError, match=r"labels.team: is a list; a label's value is a string"):
        config_api.check_labels({"team": ["a"]})
