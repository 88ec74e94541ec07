"""The parts of Istio's MeshConfig that analyzers read, from `--meshConfigFile` or defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml


class MeshConfigError(ValueError):
    """A mesh config file that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class MeshConfig:
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ingress_controller_mode(self) -> str:
        return str(self.raw.get("ingressControllerMode", "STRICT"))

    @property
    def ingress_service(self) -> str:
        return str(self.raw.get("ingressService") or "istio-ingressgateway")

    @property
    def ingress_selector(self) -> str:
        return str(self.raw.get("ingressSelector") or "ingressgateway")

    @property
    def root_namespace(self) -> str:
        return str(self.raw.get("rootNamespace") or "istio-system")

    @property
    def trust_domain(self) -> str:
        return str(self.raw.get("trustDomain") or "cluster.local")

    @property
    def default_config(self) -> Mapping[str, Any]:
        value = self.raw.get("defaultConfig")
        return value if isinstance(value, Mapping) else {}

    def merged(self, other: Mapping[str, Any]) -> MeshConfig:
        return MeshConfig({**self.raw, **other})


def load_mesh_config(paths: list[str]) -> MeshConfig:
    """Read mesh config files (later files override earlier keys)."""
    config = MeshConfig()
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                data = yaml.safe_load(handle)
        except OSError as exc:
            raise MeshConfigError(f"--meshConfigFile {path}: cannot read it: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise MeshConfigError(f"--meshConfigFile {path}: invalid YAML: {exc}") from exc
        if data is None:
            continue
        if not isinstance(data, dict):
            raise MeshConfigError(f"--meshConfigFile {path}: must be a MeshConfig mapping (defaultConfig, …)")
        config = config.merged(data)
    return config
