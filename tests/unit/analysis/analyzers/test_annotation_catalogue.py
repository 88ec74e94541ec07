from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mesh_runtime.analysis.analyzers.annotation_catalogue import ALPHA, ANNOTATIONS, ANY, lookup


def test_the_table_states_istios_annotation_reference(istio_reference: Path) -> None:
    with open(istio_reference / "annotations.yaml") as handle:
        reference: list[dict[str, Any]] = yaml.safe_load(handle)["annotations"]
    expected = {
        entry["name"]: (
            entry.get("featureStatus") or ALPHA,
            bool(entry.get("deprecated")),
            tuple(entry["resources"]),
        )
        for entry in reference
    }
    actual = {name: (a.feature_status, a.deprecated, a.resources) for name, a in ANNOTATIONS.items()}
    assert actual == expected


def test_lookup() -> None:
    suppress = lookup("galley.istio.io/analyze-suppress")
    assert suppress is not None and suppress.resources == (ANY,)
    inject = lookup("sidecar.istio.io/inject")
    assert inject is not None and inject.deprecated and inject.resources == ("Pod",)
    assert lookup("sidecar.istio.io/Inject") is None
