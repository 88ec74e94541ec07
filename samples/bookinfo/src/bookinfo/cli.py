"""`bookinfo productpage|details|reviews|ratings [--version V] [--host H] [--port P]`: run one service."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO

from . import details, productpage, ratings, reviews
from .errors import ConfigurationError
from .server import App, serve

AppFactory = Callable[[str, Mapping[str, str]], App]

SERVICES: dict[str, tuple[tuple[str, ...], AppFactory, str]] = {
    "productpage": (
        productpage.VERSIONS,
        productpage.ProductPage,
        "the book page and JSON API; calls details and reviews",
    ),
    "details": (details.VERSIONS, details.Details, "the book's details (v2: from the Google Books API)"),
    "reviews": (
        reviews.VERSIONS,
        reviews.Reviews,
        "two reviews; v2 black stars, v3 red stars (from ratings)",
    ),
    "ratings": (ratings.VERSIONS, ratings.Ratings, "the reviewers' stars"),
}

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9080


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535; 0 picks a free port)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bookinfo",
        description="Run one service of Istio's Bookinfo sample. Upstream addresses come from "
        "DETAILS_HOSTNAME/DETAILS_SERVICE_PORT, REVIEWS_HOSTNAME/..., RATINGS_HOSTNAME/... "
        "(defaults: the service's name, port 9080); outbound calls honour HTTP_PROXY.",
    )
    services = parser.add_subparsers(dest="service", metavar="SERVICE", required=True)
    for name, (versions, _, summary) in SERVICES.items():
        command = services.add_parser(name, help=summary, description=f"{name}: {summary}.")
        command.add_argument(
            "--version",
            dest="service_version",
            metavar="VERSION",
            help=f"one of {', '.join(versions)} (default: $SERVICE_VERSION, else v1)",
        )
        command.add_argument(
            "--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})"
        )
        command.add_argument(
            "--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})"
        )
    return parser


def run(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None, stderr: IO[str] | None = None
) -> int:
    env = os.environ if env is None else env
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    service: str = args.service
    versions, factory, _ = SERVICES[service]
    version = args.service_version or env.get("SERVICE_VERSION") or "v1"
    if version not in versions:
        source = "--version" if args.service_version else "SERVICE_VERSION"
        stderr.write(
            f"bookinfo {service}: {source} {version!r} is not a version of {service}; "
            f"choose one of {', '.join(versions)}\n"
        )
        return 2
    try:
        app = factory(version, env)
    except ConfigurationError as error:
        stderr.write(f"bookinfo {service}: {error}\n")
        return 2
    return serve(app, args.host, args.port, stderr)


def main() -> None:
    try:
        sys.exit(run())
    except KeyboardInterrupt:  # before the server's own handlers are in place
        sys.exit(130)
