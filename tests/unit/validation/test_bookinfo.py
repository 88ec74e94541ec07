"""Istio's Bookinfo sample (shared/reference/istio/bookinfo) validates clean, as it does in Istio."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh_runtime.resources import load_paths
from mesh_runtime.validation import validate


@pytest.fixture(scope="module")
def bookinfo_files(istio_reference: Path) -> list[Path]:
    files = sorted((istio_reference / "bookinfo").rglob("*.yaml"))
    assert len(files) >= 20, "expected Istio's Bookinfo sample files"
    return files


def test_every_bookinfo_file_validates_without_errors(bookinfo_files: list[Path]) -> None:
    checked = 0
    for path in bookinfo_files:
        loaded = load_paths([str(path)])
        assert not loaded.errors, loaded.errors
        for resource in loaded.resources:
            problems = [f.message for f in validate(resource) if f.level == "error"]
            assert not problems, f"{path.name}: {resource.friendly_name}: {problems}"
            checked += 1
    assert checked > 40


def test_the_only_bookinfo_warning_is_the_unreachable_rule_istio_also_reports(
    bookinfo_files: list[Path],
) -> None:
    """fault-injection-details-v1.yaml has two rules without matches; istioctl reports IST0130 on it too."""
    found = []
    for path in bookinfo_files:
        for resource in load_paths([str(path)]).resources:
            found += [(path.name, resource.name, f.path, f.message_type, f.args) for f in validate(resource)]
    assert found == [
        (
            "fault-injection-details-v1.yaml",
            "details",
            "spec.http[1]",
            "VirtualServiceUnreachableRule",
            ("#1", "only the last rule can have no matches"),
        )
    ]


def test_kubernetes_kinds_are_left_alone(bookinfo_files: list[Path]) -> None:
    kubernetes = [
        resource
        for path in bookinfo_files
        for resource in load_paths([str(path)]).resources
        if not resource.kind.modelled
    ]
    assert {r.kind.kind for r in kubernetes} >= {"Service", "Deployment"}
    assert all(validate(resource) == [] for resource in kubernetes)
