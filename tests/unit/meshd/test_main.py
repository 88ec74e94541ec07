"""The meshd command line: init, token create, usage errors; never a traceback."""

from __future__ import annotations

import io
from pathlib import Path

from mesh_runtime.ca import BootstrapTokens
from mesh_runtime.meshd.main import run


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
    code, _, err = meshd("init", "--data-dir", str(root), "--trust-domain", "other.domain")
    assert code == 1 and err.startswith("meshd: error: ") and "belongs to trust domain 'cluster.local'" in err
    assert "Traceback" not in err
