"""The config model: kinds, resources, loading from files and stdin, and Istio's host names."""

from .kinds import Kind
from .loader import (
    InputNotFoundError,
    LoadError,
    LoadResult,
    ResourceError,
    load_paths,
    load_text,
    parse_resource,
)
from .model import Resource, ResourceKey, Source

__all__ = [
    "InputNotFoundError",
    "Kind",
    "LoadError",
    "LoadResult",
    "Resource",
    "ResourceError",
    "ResourceKey",
    "Source",
    "load_paths",
    "load_text",
    "parse_resource",
]
