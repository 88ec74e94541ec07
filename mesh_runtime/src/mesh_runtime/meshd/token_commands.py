"""`meshd token create|add|list|revoke`: bootstrap tokens in a data directory's store file.

A running meshd reads the file again when it changes, so every command takes effect at once. `-o json`
prints what happened as one JSON document; `--dry-run` checks and reports, and stores nothing. The token
itself is printed only by `create` (once); `add` and `revoke --token-file` read it from a file, `-` being
stdin, and never print it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from ..ca import BootstrapTokens, PatternError
from ..ca.tokens import MIN_TOKEN_LENGTH, TokenFormatError, TokenGrant, check_token_format
from ..command.errors import EXIT_ERROR, EXIT_USAGE, CommandError
from ..command.flags import add_boolean
from ..validation.formats import parse_duration
from .datadir import DEFAULT_DATA_DIR, DataDir, read_trust_domain

ENV_DATA_DIR = "MESHD_DATA_DIR"
STDIN = "-"


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    token = commands.add_parser("token", help="bootstrap tokens for workloads")
    token_commands = token.add_subparsers(title="token commands", metavar="COMMAND")
    create = token_commands.add_parser(
        "create",
        help="issue a bootstrap token",
        description="Issue a bootstrap token allowing the given identities; it is printed once.",
    )
    _grant_flags(create, ttl_help="how long the token is valid (e.g. 24h; default: no expiry)")
    create.set_defaults(handler=run_create)

    add = token_commands.add_parser(
        "add",
        help="register a bootstrap token made elsewhere (idempotent)",
        description="Register the bootstrap token in --token-file (made elsewhere, e.g. by "
        "`secrets.token_urlsafe(32)` on an Ansible controller) allowing exactly the given identities. "
        "Prints `created ID` for a new token, `unchanged ID` when it already allows exactly these identities "
        "with this description (the store file is not touched), `configured ID` when its identities or "
        "description were replaced (it keeps its id). The token itself is never printed. A running meshd "
        "honours the change at once.",
    )
    _token_file_flag(add, required=True)
    _grant_flags(
        add,
        ttl_help="how long the token is valid, counted from when it was first added (e.g. 24h; "
        "default: keep the current expiry, none for a new token)",
    )
    add.set_defaults(handler=run_add)

    listing = token_commands.add_parser(
        "list",
        help="list the bootstrap tokens (never the tokens themselves)",
        description="List every bootstrap token's id, identities, creation, expiry and description.",
    )
    _data_dir_flag(listing)
    _output_flag(listing)
    listing.set_defaults(handler=run_list)

    revoke = token_commands.add_parser(
        "revoke",
        help="revoke bootstrap tokens",
        description="Forget bootstrap tokens, by id or by the token in --token-file; a workload that has "
        "not yet obtained its certificate with one can no longer do so.",
    )
    revoke.add_argument("ids", nargs="*", metavar="ID", help="the ids of the tokens to revoke")
    _token_file_flag(revoke, required=False)
    _data_dir_flag(revoke)
    add_boolean(revoke, "--ignore-not-found", default=False, help="a token that is not there is not an error")
    add_boolean(revoke, "--dry-run", default=False, help="report what would be revoked, revoke nothing")
    _output_flag(revoke)
    revoke.set_defaults(handler=run_revoke)


def _data_dir_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help=f"meshd's data directory (default ${ENV_DATA_DIR} or {DEFAULT_DATA_DIR})",
    )


def _output_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="", help="output format: json (default: lines of text)")


def _token_file_flag(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--token-file",
        required=required,
        metavar="FILE",
        help=f"the file holding the token, - for stdin (surrounding whitespace ignored; at least "
        f"{MIN_TOKEN_LENGTH} URL-safe base64 letters: A-Z a-z 0-9 - _)",
    )


def _grant_flags(parser: argparse.ArgumentParser, ttl_help: str) -> None:
    _data_dir_flag(parser)
    parser.add_argument(
        "--identity",
        action="append",
        required=True,
        metavar="NS/SA",
        help="an identity the token allows: <namespace>/<service account> or <namespace>/* (repeatable)",
    )
    parser.add_argument("--ttl", default=None, help=ttl_help)
    parser.add_argument("--description", default="", help="what the token is for")
    add_boolean(parser, "--dry-run", default=False, help="check and report, store nothing")
    _output_flag(parser)


# -- the commands -----------------------------------------------------------------------------------------


def run_create(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    as_json = _json_output(args)
    tokens = _token_store(args)
    ttl = _ttl(args)
    try:
        issued = tokens.issue(args.identity, ttl=ttl, description=args.description, dry_run=args.dry_run)
    except PatternError as exc:
        raise CommandError(f"--identity: {exc}", EXIT_USAGE) from exc
    if as_json:
        document = {"result": "created", "dry_run": args.dry_run, **grant_json(issued.grant)}
        if args.dry_run:
            document["id"] = None
        document["token"] = issued.token or None
        stdout.write(json.dumps(document, indent=2) + "\n")
        return 0
    allowed = ", ".join(str(p) for p in issued.grant.patterns)
    if args.dry_run:
        stderr.write(f"a bootstrap token allowing {allowed} would be created (dry run)\n")
        return 0
    stdout.write(issued.token + "\n")
    stderr.write(f"bootstrap token {issued.grant.token_id} allows {allowed}; it is shown only this once\n")
    return 0


def run_add(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    as_json = _json_output(args)
    token = read_token_file(args.token_file)
    tokens = _token_store(args)
    ttl = _ttl(args)
    try:
        result, grant = tokens.register(
            token, args.identity, ttl=ttl, description=args.description, dry_run=args.dry_run
        )
    except PatternError as exc:
        raise CommandError(f"--identity: {exc}", EXIT_USAGE) from exc
    if as_json:
        document = {"result": result, "dry_run": args.dry_run, **grant_json(grant)}
        if args.dry_run and result == "created":
            document["id"] = None
        stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        token_id = "(dry run)" if args.dry_run and result == "created" else grant.token_id
        stdout.write(f"{result} {token_id}\n")
    return 0


def run_list(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    as_json = _json_output(args)
    grants = _token_store(args).grants()
    if as_json:
        stdout.write(json.dumps({"tokens": [grant_json(g) for g in grants]}, indent=2) + "\n")
        return 0
    if not grants:
        stderr.write("No bootstrap tokens found.\n")
        return 0
    for grant in grants:
        expires = _iso(grant.expires_at) if grant.expires_at else "never"
        identities = ",".join(str(p) for p in grant.patterns)
        line = f"{grant.token_id}  {identities}  expires {expires}  {grant.description}"
        stdout.write(line.rstrip() + "\n")
    return 0


def run_revoke(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    as_json = _json_output(args)
    if not args.ids and not args.token_file:
        raise CommandError("give the ids of the tokens to revoke, or --token-file", EXIT_USAGE)
    tokens = _token_store(args)
    wanted: list[tuple[str, str | None]] = [(f'"{token_id}"', token_id) for token_id in args.ids]
    if args.token_file:
        grant = tokens.grant_of(read_token_file(args.token_file))
        wanted.append((f"in {args.token_file}", grant.token_id if grant else None))
    results: list[dict[str, Any]] = []
    missing: list[str] = []
    for described, token_id in wanted:
        revoked = token_id is not None and tokens.revoke(token_id, dry_run=args.dry_run)
        results.append({"id": token_id, "result": "revoked" if revoked else "absent"})
        if not revoked and not args.ignore_not_found:
            missing.append(f"bootstrap token {described} not found")
        elif revoked and not as_json:
            stdout.write(f"revoked {token_id}{' (dry run)' if args.dry_run else ''}\n")
    if as_json:
        stdout.write(json.dumps({"results": results, "dry_run": args.dry_run}, indent=2) + "\n")
    if missing:
        raise CommandError("; ".join(missing), EXIT_ERROR)
    return 0


# -- helpers ----------------------------------------------------------------------------------------------


def grant_json(grant: TokenGrant) -> dict[str, Any]:
    """A grant as the commands print it: never the token, nor its hash."""
    now = datetime.now(UTC)
    return {
        "id": grant.token_id,
        "identities": [str(p) for p in grant.patterns],
        "created": _iso(grant.created_at),
        "expires": _iso(grant.expires_at) if grant.expires_at is not None else None,
        "expired": grant.is_expired(now),
        "description": grant.description,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_output(args: argparse.Namespace) -> bool:
    output = str(args.output).lower()
    if output not in ("", "json"):
        raise CommandError("--output must be 'json' (or omitted)", EXIT_USAGE)
    return output == "json"


def data_dir(args: argparse.Namespace) -> Path:
    return Path(args.data_dir or os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR).expanduser().absolute()


def _token_store(args: argparse.Namespace) -> BootstrapTokens:
    root = data_dir(args)
    directory = DataDir(root)
    if not directory.settings.exists():
        raise CommandError(f"{root} is not a meshd data directory: run 'meshd init --data-dir {root}' first")
    return BootstrapTokens(directory.bootstrap_tokens, read_trust_domain(root))


def _ttl(args: argparse.Namespace) -> timedelta | None:
    if not args.ttl:
        return None
    nanos = parse_duration(args.ttl)
    if nanos is None or nanos <= 0:
        raise CommandError(f"--ttl: {args.ttl!r} is not a positive duration such as 24h or 30m", EXIT_USAGE)
    return timedelta(microseconds=nanos / 1000)


def read_token_file(name: str) -> str:
    """The token in the file (`-`: stdin), stripped; a usage error naming the file (never quoting the
    token) otherwise."""
    where = "stdin" if name == STDIN else str(Path(name).expanduser())
    try:
        token = sys.stdin.read().strip() if name == STDIN else Path(where).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise CommandError(f"--token-file {where}: cannot be read: {exc.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CommandError(f"--token-file {where}: not a UTF-8 text file", EXIT_USAGE) from None
    if not token:
        raise CommandError(f"--token-file {where}: the file is empty; put the token in it", EXIT_USAGE)
    try:
        check_token_format(token)
    except TokenFormatError as exc:
        raise CommandError(f"--token-file {where}: {exc}", EXIT_USAGE) from None
    return token
