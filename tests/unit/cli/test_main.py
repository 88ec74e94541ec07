"""meshctl's argument parsing: options and names in any order, as kubectl takes them."""

from __future__ import annotations

import io

import pytest

from mesh_runtime.cli.main import build_parser, parse_intermixed, run


@pytest.mark.parametrize(
    "argv",
    [
        ["get", "pods", "details-v1", "reviews-v1", "-n", "default", "-o", "json"],
        ["get", "pods", "-n", "default", "details-v1", "reviews-v1", "-o", "json"],
        ["get", "pods", "-n", "default", "details-v1", "-o", "json", "reviews-v1"],
    ],
)
def test_names_after_options_join_the_names(argv: list[str]) -> None:
    args = parse_intermixed(build_parser(), argv)
    assert (args.kind, args.names, args.namespace, args.output) == (
        "pods",
        ["details-v1", "reviews-v1"],
        "default",
        "json",
    )


def test_files_after_options_join_the_files() -> None:
    args = parse_intermixed(build_parser(), ["analyze", "a.yaml", "--use-kube=false", "b.yaml", "-"])
    assert args.files == ["a.yaml", "b.yaml", "-"]


def test_delete_takes_names_after_options() -> None:
    args = parse_intermixed(build_parser(), ["delete", "vs", "-n", "default", "reviews"])
    assert args.names == ["reviews"]


@pytest.mark.parametrize(
    ("argv", "unrecognized"),
    [
        (["get", "pods", "-n", "default", "--no-such-flag"], "--no-such-flag"),
        (["version", "extra"], "extra"),
    ],
)
def test_other_leftovers_are_usage_errors(argv: list[str], unrecognized: str) -> None:
    stderr = io.StringIO()
    assert run(argv, stdout=io.StringIO(), stderr=stderr) == 64
    assert stderr.getvalue().startswith(f"Error: unrecognized arguments: {unrecognized}\n")
