"""The meshd command line: init, token create, token add, usage errors; never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

from mesh_runtime.ca import BootstrapTokens
from mesh_runtime.meshd.main import build_parser, run


def meshd(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def test_init_and_token_create(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    code, out, _ = meshd("token", "create", "--data-dir", str(root), "--identity", "default/x")
    assert code == 1
    code, out, _ = meshd("init", "--data-dir", str(root))
    assert code == 0 and out.startswith(f"meshd data directory {root} is ready: trust domain cluster.local")
    code, out, err = meshd(
        "token",
        "create",
        "--data-dir",
        str(root),
        "--identity",
        "default/productpage",
        "--identity",
        "prod/*",
    )
    assert code == 0
    token = out.strip()
    assert "allows default/productpage, prod/*; it is shown only this once" in err
    tokens = BootstrapTokens(root / "bootstrap-tokens.json")
    assert tokens.authorize(token, "spiffe://cluster.local/ns/prod/sa/anything").allowed
    assert not tokens.authorize(token, "spiffe://cluster.local/ns/default/sa/other").allowed


def test_usage_errors(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    assert meshd("init", "--data-dir", str(root))[0] == 0
    code, _, err = meshd("token", "create", "--data-dir", str(root), "--identity", "no-slash")
    assert code == 64 and "--identity: identity pattern 'no-slash'" in err
    code, _, err = meshd("token", "create", "--data-dir", str(root), "--identity", "a/b", "--ttl", "soon")
    assert code == 64 and "--ttl: 'soon' is not a positive duration" in err
    code, _, err = meshd("token", "create", "--data-dir", str(root), "--identity", "a/b", "--ttl", "1h")
    assert code == 0
    assert meshd()[0] == 64
    code, _, err = meshd("serve", "--api-port", "99999")
    assert code == 64 and "invalid port '99999'" in err
    code, _, err = meshd("serve", "--trace-sampling", "150")
    assert code == 64 and "invalid percentage '150'" in err
    code, _, err = meshd("serve", "--zipkin-address", "zipkin")
    assert code == 64 and "invalid collector address 'zipkin'" in err
    for flag, value in (
        ("--workload-grace-period", "soon"),
        ("--heartbeat-interval", "0s"),
        ("--heartbeat-interval", "-5s"),
    ):
        code, _, err = meshd("serve", f"{flag}={value}")
        assert code == 64 and f"{flag}: invalid duration '{value}': use e.g. 30s, 2m or 500ms" in err, err
    code, _, err = meshd("serve", "--data-dir", str(tmp_path / "unused"), "--revision", "canary")
    assert code == 64 and "--revision canary: a revision other than default is a second control plane" in err
    code, _, err = meshd("serve", "--data-dir", str(tmp_path / "unused"), "--follow", "127.0.0.1:15080")
    assert code == 64 and "--follow needs a --revision of its own" in err
    code, _, err = meshd("serve", "--revision", "Canary!")
    assert code == 64 and "invalid revision 'Canary!'" in err
    code, _, err = meshd("serve", "--follow", "primary")
    assert code == 64 and "invalid address 'primary'" in err
    assert not (tmp_path / "unused").exists(), "a refused serve created its data directory"
    code, _, err = meshd("init", "--data-dir", str(root), "--trust-domain", "other.domain")
    assert code == 1 and err.startswith("meshd: error: ") and "belongs to trust domain 'cluster.local'" in err
    assert "Traceback" not in err


def test_token_add_registers_a_token_made_elsewhere_idempotently(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    token = "Zq3mX8rT-v1Lp_N4wYb7Kc2Hd5Fg9Js0AeUiOo6RtQw"
    token_file = tmp_path / "productpage.token"
    token_file.write_text(f"  {token}\n")
    add = ("token", "add", "--data-dir", str(root), "--token-file", str(token_file))
    code, _, err = meshd(*add, "--identity", "default/productpage")
    assert code == 1 and f"{root} is not a meshd data directory: run 'meshd init" in err
    assert meshd("init", "--data-dir", str(root))[0] == 0
    store = root / "bootstrap-tokens.json"

    code, out, err = meshd(*add, "--identity", "default/productpage", "--description", "node01")
    assert (code, err) == (0, "")
    result, token_id = out.split()
    assert result == "created" and len(token_id) == 8
    written = store.read_bytes(), store.stat().st_mtime_ns

    assert meshd(*add, "--identity", "default/productpage", "--description", "node01") == (
        0,
        f"unchanged {token_id}\n",
        "",
    )
    assert (store.read_bytes(), store.stat().st_mtime_ns) == written
    tokens = BootstrapTokens(store)
    assert tokens.authorize(token, "spiffe://cluster.local/ns/default/sa/productpage").allowed
    assert not tokens.authorize(token, "spiffe://cluster.local/ns/prod/sa/anything").allowed

    code, out, _ = meshd(*add, "--identity", "prod/*", "--description", "node01")
    assert (code, out) == (0, f"configured {token_id}\n")
    assert tokens.authorize(token, "spiffe://cluster.local/ns/prod/sa/anything").allowed
    assert not tokens.authorize(token, "spiffe://cluster.local/ns/default/sa/productpage").allowed
    assert token not in store.read_text()


def test_token_add_refuses_a_bad_token_file_without_showing_the_token(tmp_path: Path) -> None:
    root = tmp_path / "meshd"
    assert meshd("init", "--data-dir", str(root))[0] == 0
    short, spaced = tmp_path / "short.token", tmp_path / "spaced.token"
    short.write_text("abc123\n")
    spaced.write_text("two words in one token file, long enough\n")
    (tmp_path / "empty.token").write_text(" \n")
    cases = {
        "missing.token": "cannot be read: No such file or directory",
        "empty.token": "the file is empty",
        "short.token": "at least 22 characters, this one has 6",
        "spaced.token": "only hold URL-safe base64 letters",
    }
    for name, problem in cases.items():
        path = tmp_path / name
        code, out, err = meshd(
            "token", "add", "--data-dir", str(root), "--token-file", str(path), "--identity", "default/x"
        )
        assert (code, out) == (64, "")
        assert err.startswith(f"meshd: error: --token-file {path}: ") and problem in err
        assert "abc123" not in err and "two words" not in err
    good = tmp_path / "good.token"
    good.write_text("A" * 22)
    code, _, err = meshd(
        "token", "add", "--data-dir", str(root), "--token-file", str(good), "--identity", "no-slash"
    )
    assert code == 64 and "--identity: identity pattern 'no-slash'" in err
    assert not (root / "bootstrap-tokens.json").exists()


def test_serve_help_gives_the_grace_period_and_the_heartbeat_with_their_defaults() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]  # noqa: SLF001
    text = " ".join(serve.format_help().split())
    assert "--workload-grace-period DURATION" in text and "(default 30s; Istio's" in text, text
    assert "--heartbeat-interval DURATION" in text and "silent for three intervals" in text, text
    args = build_parser().parse_args(
        ["serve", "--workload-grace-period", "1m30s", "--heartbeat-interval", "500ms"]
    )
    assert (args.workload_grace_period, args.heartbeat_interval) == (90.0, 0.5)
    defaults = build_parser().parse_args(["serve"])
    assert (defaults.workload_grace_period, defaults.heartbeat_interval) == (30.0, 5.0)
