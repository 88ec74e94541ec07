from __future__ import annotations

from pathlib import Path

import pytest
import yaml


@pytest.fixture(scope="session")
def shared_catalogue(istio_reference: Path) -> list[dict[str, str]]:
    with open(istio_reference / "analysis-messages.yaml") as handle:
        return list(yaml.safe_load(handle)["messages"])
