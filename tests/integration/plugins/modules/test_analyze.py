"""meshlab.mesh.analyze in a real playbook run (playbooks/analyze.yml) against the real meshctl."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.integration.plugins.ansible_run import PlaybookRun, run_playbook

FILES = Path(__file__).resolve().parent / "files"

EXPECTED_FAILURES = {
    "Warning at failure_threshold Warning",
    "Error at the default threshold",
    "Unparseable file",
    "Missing file",
    "Malformed suppression",
    "Nonexistent meshctl_path",
}


@pytest.fixture(scope="module")
def scenario(
    tmp_path_factory: pytest.TempPathFactory, meshctl_path: Path, istio_reference: Path
) -> dict[str, Any]:
    scratch = tmp_path_factory.mktemp("analyze")
    broken = scratch / "broken.yaml"
    broken.write_text("kind: [\n")
    return {
        "meshctl": str(meshctl_path),
        "broken_file": str(broken),
        "absent_file": str(scratch / "absent.yaml"),
        "istio_reference": str(istio_reference),
    }


@pytest.fixture(scope="module")
def run(scenario: dict[str, Any]) -> PlaybookRun:
    return run_playbook("analyze.yml", scenario)


@pytest.fixture(scope="module")
def check_run(scenario: dict[str, Any]) -> PlaybookRun:
    return run_playbook("analyze.yml", scenario, check=True)


def meshctl_json(meshctl: str, *args: str) -> list[dict[str, Any]]:
    """What meshctl itself prints for `analyze --use-kube=false -o json ARGS`."""
    proc = subprocess.run(
        [meshctl, "analyze", "--use-kube=false", "-o", "json", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode in (0, 79), proc.stderr
    messages: list[dict[str, Any]] = json.loads(proc.stdout)
    return messages


def codes(result: dict[str, Any]) -> list[str]:
    return [m["code"] for m in result["messages"]]


def test_the_play_fails_exactly_where_expected_and_changes_nothing(run: PlaybookRun) -> None:
    assert run.returncode == 0, run.stderr
    assert set(run.failed_tasks()) == EXPECTED_FAILURES
    assert run.stats["failures"] == 0
    assert run.stats["rescued"] == len(EXPECTED_FAILURES)
    assert run.stats["changed"] == 0
    assert all(result["changed"] is False for result in run.results.values())


def test_a_warning_under_the_default_threshold_is_reported(
    run: PlaybookRun, scenario: dict[str, Any]
) -> None:
    result = run.result("Warning under the default threshold")
    assert not result.get("failed")
    assert result["messages"] == meshctl_json(
        scenario["meshctl"],
        "--analyzer",
        "gateway.IngressGatewayPortAnalyzer",
        str(FILES / "gateway-port.yaml"),
    )
    assert codes(result) == ["IST0162"]
    assert result["counts"] == {"Error": 0, "Warning": 1, "Info": 0}
    assert result["issues"] is True
    assert result["rc"] == 0


def test_a_warning_fails_at_failure_threshold_warning(run: PlaybookRun) -> None:
    result = run.result("Warning at failure_threshold Warning")
    assert result["failed"] is True
    assert "found 1 message at or above Warning (failure_threshold)" in result["msg"]
    assert "Warning [IST0162] (Gateway default/shop-gateway" in result["msg"]
    assert codes(result) == ["IST0162"]
    assert result["rc"] == 79


def test_an_error_fails_at_the_default_threshold(run: PlaybookRun) -> None:
    result = run.result("Error at the default threshold")
    assert result["failed"] is True
    assert "at or above Error (failure_threshold)" in result["msg"]
    assert "Error [IST0101] (VirtualService default/shop" in result["msg"]
    assert "Warning [" not in result["msg"]  # only messages at the threshold are quoted
    assert result["counts"]["Error"] >= 1
    assert "IST0101" in codes(result)


def test_output_threshold_filters_messages_but_not_counts(run: PlaybookRun) -> None:
    result = run.result("Output threshold Warning in every namespace")
    assert codes(result) == ["IST0162"]
    assert result["counts"] == {"Error": 0, "Warning": 1, "Info": 1}


def test_namespace_selects_what_is_reported(run: PlaybookRun) -> None:
    assert run.result("Namespace default")["messages"] == []
    in_shop = run.result("Namespace shop")
    assert codes(in_shop) == ["IST0118"]
    assert in_shop["messages"][0]["origin"] == "Service shop/shop"
    assert in_shop["counts"] == {"Error": 0, "Warning": 0, "Info": 1}


def test_a_suppressed_message_is_not_reported(run: PlaybookRun) -> None:
    result = run.result("Suppressed warning")
    assert result["messages"] == []
    assert result["counts"] == {"Error": 0, "Warning": 0, "Info": 0}
    assert result["issues"] is False
    assert "IST0162=Gateway *" in result["command"]


def test_an_unparseable_file_fails_with_meshctls_error(run: PlaybookRun, scenario: dict[str, Any]) -> None:
    result = run.result("Unparseable file")
    assert result["failed"] is True
    assert result["rc"] == 65
    assert "could not parse some files (exit 65)" in result["msg"]
    assert scenario["broken_file"] in result["msg"]
    assert "ignore_unknown" in result["msg"]
    assert codes(result) == ["IST0162"]  # the other file was analyzed


def test_ignore_unknown_skips_an_unparseable_file_with_a_warning(
    run: PlaybookRun, scenario: dict[str, Any]
) -> None:
    result = run.result("Unparseable file with ignore_unknown")
    assert not result.get("failed")
    assert codes(result) == ["IST0162"]
    assert any(scenario["broken_file"] in warning for warning in result["warnings"])


def test_a_missing_file_is_named(run: PlaybookRun, scenario: dict[str, Any]) -> None:
    result = run.result("Missing file")
    assert result["msg"] == f"files[1]: {scenario['absent_file']} does not exist on the managed host"


def test_a_malformed_suppression_is_named(run: PlaybookRun) -> None:
    assert run.result("Malformed suppression")["msg"].startswith("suppress[0]: 'IST0162' is not CODE=PATTERN")


def test_a_meshctl_path_that_does_not_exist_is_named(run: PlaybookRun, scenario: dict[str, Any]) -> None:
    result = run.result("Nonexistent meshctl_path")
    assert (
        result["msg"]
        == f"meshctl_path: {scenario['absent_file']} is not an executable file on the managed host"
    )


def test_bookinfo_gets_what_meshctl_reports(run: PlaybookRun, scenario: dict[str, Any]) -> None:
    bookinfo = Path(scenario["istio_reference"]) / "bookinfo"
    files = [
        str(bookinfo / "networking" / "bookinfo-gateway.yaml"),
        str(bookinfo / "platform" / "kube" / "bookinfo.yaml"),
    ]
    result = run.result("Bookinfo")
    expected = meshctl_json(scenario["meshctl"], *files)
    assert result["messages"] == expected
    levels = [m["level"] for m in expected]
    assert result["counts"] == {level: levels.count(level) for level in ("Error", "Warning", "Info")}
    assert result["command"][-3:] == ["--", *files]


def test_check_mode_reports_the_same(run: PlaybookRun, check_run: PlaybookRun) -> None:
    assert check_run.returncode == 0, check_run.stderr
    assert check_run.stats["changed"] == 0
    assert set(check_run.failed_tasks()) == EXPECTED_FAILURES
    for name, result in run.results.items():
        in_check_mode = check_run.result(name)
        for key in ("messages", "counts", "issues", "msg", "rc", "command"):
            assert in_check_mode.get(key) == result.get(key), (name, key)
