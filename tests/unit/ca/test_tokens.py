from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mesh_runtime.ca.identity import Identity
from mesh_runtime.ca.tokens import (
    BootstrapTokens,
    IdentityPattern,
    PatternError,
    TokenFormatError,
    TokenStoreError,
)

PRODUCTPAGE = "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"
REVIEWS = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
INGRESS = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"
#: A token made elsewhere, as `secrets.token_urlsafe(32)` makes them.
CONTROLLER_TOKEN = "q8Hx2Vd-0pZr_LkT7mWbN3cYfJ5sAeUgRi9oXh1KtEw"


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "bootstrap-tokens.json"


@pytest.fixture
def store(store_path: Path) -> BootstrapTokens:
    return BootstrapTokens(store_path)


def test_the_store_file_holds_only_the_tokens_hash(store: BootstrapTokens, store_path: Path) -> None:
    issued = store.issue(["default/bookinfo-productpage"], description="productpage on node01")

    text = store_path.read_text()
    assert issued.token not in text
    document = json.loads(text)
    assert document["tokens"] == [
        {
            "id": issued.grant.token_id,
            "sha256": hashlib.sha256(issued.token.encode()).hexdigest(),
            "identities": ["default/bookinfo-productpage"],
            "created": issued.grant.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "expires": None,
            "description": "productpage on node01",
        }
    ]
    assert len(issued.token) >= 43


def test_the_store_file_is_owner_only_and_replaced_whole(store: BootstrapTokens, store_path: Path) -> None:
    store.issue(["default/*"])
    store.issue(["istio-system/*"])

    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600
    assert [p.name for p in store_path.parent.iterdir()] == [store_path.name]


def test_exact_pattern_allows_that_service_account_only(store: BootstrapTokens) -> None:
    token = store.issue(["default/bookinfo-productpage"]).token

    allowed = store.authorize(token, PRODUCTPAGE)
    refused = store.authorize(token, REVIEWS)

    assert allowed and allowed.reason.endswith("allows default/bookinfo-productpage")
    assert not refused
    assert refused.reason.endswith(f"does not allow {REVIEWS}: it allows default/bookinfo-productpage")


def test_namespace_wildcard_allows_every_service_account_in_it(store: BootstrapTokens) -> None:
    token = store.issue(["default/*"]).token

    assert store.authorize(token, PRODUCTPAGE)
    assert store.authorize(token, Identity.parse(REVIEWS))
    refused = store.authorize(token, INGRESS)
    assert not refused and "it allows default/*" in refused.reason


def test_an_unknown_token_gets_nothing_and_learns_nothing(store: BootstrapTokens) -> None:
    store.issue(["default/*"])

    refused = store.authorize("not-a-token", PRODUCTPAGE)

    assert not refused
    assert refused.reason == "unknown bootstrap token"
    assert refused.token_id is None


def test_another_trust_domain_is_refused(store: BootstrapTokens) -> None:
    token = store.issue(["default/*"]).token

    refused = store.authorize(token, "spiffe://other.mesh/ns/default/sa/bookinfo-productpage")

    assert not refused
    assert "trust domain 'other.mesh'; this mesh's trust domain is 'cluster.local'" in refused.reason


def test_a_malformed_requested_identity_is_refused_with_the_reason(store: BootstrapTokens) -> None:
    token = store.issue(["default/*"]).token

    refused = store.authorize(token, "spiffe://cluster.local/default/productpage")

    assert not refused and "is not in SPIFFE form" in refused.reason


def test_an_expired_token_is_refused(store: BootstrapTokens) -> None:
    issued_at = datetime(2030, 1, 1, tzinfo=UTC)
    token = store.issue(["default/*"], ttl=timedelta(hours=1), now=issued_at).token

    assert store.authorize(token, PRODUCTPAGE, now=issued_at + timedelta(minutes=59))
    refused = store.authorize(token, PRODUCTPAGE, now=issued_at + timedelta(hours=1))
    assert not refused and refused.reason.endswith("expired at 2030-01-01T01:00:00Z")


def test_tokens_survive_a_restart(store: BootstrapTokens, store_path: Path) -> None:
    token = store.issue(["default/*"], ttl=timedelta(days=1)).token

    reopened = BootstrapTokens(store_path)

    assert reopened.authorize(token, PRODUCTPAGE)
    assert reopened.grants() == store.grants()


def test_a_token_issued_by_another_process_is_seen(store: BootstrapTokens, store_path: Path) -> None:
    assert store.grants() == []

    token = BootstrapTokens(store_path).issue(["istio-system/*"]).token

    assert store.authorize(token, INGRESS)


def test_a_revoked_token_stops_working(store: BootstrapTokens) -> None:
    kept = store.issue(["default/*"])
    revoked = store.issue(["default/*"])

    assert store.revoke(revoked.grant.token_id)
    assert not store.revoke(revoked.grant.token_id)
    assert store.authorize(revoked.token, PRODUCTPAGE).reason == "unknown bootstrap token"
    assert store.authorize(kept.token, PRODUCTPAGE)


def test_every_stored_hash_is_compared_in_constant_time(
    store: BootstrapTokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.issue(["default/*"]).token
    store.issue(["default/*"])
    store.issue(["default/*"])
    compared: list[tuple[str, str]] = []

    def recording_compare(left: str, right: str) -> bool:
        compared.append((left, right))
        return left == right

    monkeypatch.setattr(hmac, "compare_digest", recording_compare)
    assert store.authorize(first, PRODUCTPAGE)

    assert len(compared) == 3


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("default", "is not <namespace>/<service account> or <namespace>/*"),
        ("default/sa/x", "is not <namespace>/<service account>"),
        ("*/*", "namespace '*' is not a valid Kubernetes namespace name"),
        ("Default/x", "namespace 'Default' is not a valid"),
        ("default/X", "service account 'X' is not a valid Kubernetes name"),
    ],
)
def test_bad_patterns_are_refused_when_issuing(store: BootstrapTokens, pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=message.replace("*", "\\*")):
        store.issue([pattern])


def test_a_token_needs_a_pattern(store: BootstrapTokens, store_path: Path) -> None:
    with pytest.raises(PatternError, match="at least one identity pattern"):
        store.issue([])

    assert not store_path.exists()


def test_patterns_print_as_written() -> None:
    assert str(IdentityPattern.parse("default/*")) == "default/*"
    assert IdentityPattern.parse("default/x").matches(
        Identity.parse("spiffe://cluster.local/ns/default/sa/x")
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not valid JSON (line 1 column 2: "),
        ("[]", "expected a JSON object with `version` and `tokens`"),
        ('{"version": 7, "tokens": []}', "version: expected 1, found 7"),
        ('{"version": 1}', "tokens: expected a list"),
        ('{"version": 1, "tokens": [{"id": "a"}]}', "tokens[0].sha256: expected a non-empty string"),
        (
            '{"version": 1, "tokens": [{"id": "a", "sha256": "' + "0" * 64 + '", "identities": ["x"]}]}',
            "tokens[0].identities[0]: identity pattern 'x' is not",
        ),
        (
            '{"version": 1, "tokens": [{"id": "a", "sha256": "abc", "identities": ["x/*"]}]}',
            "tokens[0].sha256: expected 64 lowercase hex digits",
        ),
        (
            '{"version": 1, "tokens": [{"id": "a", "sha256": "'
            + "0" * 64
            + '", "identities": ["x/*"], "created": "yesterday"}]}',
            "tokens[0].created: expected an ISO 8601 time",
        ),
    ],
)
def test_a_damaged_store_names_the_file_and_the_field(store_path: Path, content: str, message: str) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_text(content)

    with pytest.raises(TokenStoreError) as raised:
        BootstrapTokens(store_path)

    assert str(raised.value).startswith(f"{store_path}: {message}")


def test_a_token_made_elsewhere_is_registered_once_then_unchanged(
    store: BootstrapTokens, store_path: Path
) -> None:
    result, grant = store.register(CONTROLLER_TOKEN, ["default/bookinfo-productpage"], description="node01")
    assert result == "created"
    assert store.authorize(CONTROLLER_TOKEN, PRODUCTPAGE).token_id == grant.token_id
    assert not store.authorize(CONTROLLER_TOKEN, REVIEWS)
    assert CONTROLLER_TOKEN not in store_path.read_text()
    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600
    before = store_path.read_bytes(), os.stat(store_path).st_mtime_ns, os.stat(store_path).st_ino

    again = BootstrapTokens(store_path).register(
        CONTROLLER_TOKEN, ["default/bookinfo-productpage"], description="node01"
    )

    assert again == ("unchanged", grant)
    after = store_path.read_bytes(), os.stat(store_path).st_mtime_ns, os.stat(store_path).st_ino
    assert after == before


def test_registering_other_identities_replaces_them_and_keeps_the_id(
    store: BootstrapTokens, store_path: Path
) -> None:
    other = store.issue(["istio-system/*"])
    _, first = store.register(CONTROLLER_TOKEN, ["default/bookinfo-productpage"])

    result, grant = store.register(CONTROLLER_TOKEN, ["default/bookinfo-reviews"], description="moved")

    assert result == "configured"
    assert (grant.token_id, grant.created_at) == (first.token_id, first.created_at)
    assert grant.description == "moved"
    assert store.authorize(CONTROLLER_TOKEN, REVIEWS)
    assert not store.authorize(CONTROLLER_TOKEN, PRODUCTPAGE)
    assert BootstrapTokens(store_path).grants() == [other.grant, grant]
    assert store.register(CONTROLLER_TOKEN, ["default/bookinfo-reviews"], description="")[0] == "configured"


def test_a_registered_ttl_counts_from_the_first_registration(store: BootstrapTokens) -> None:
    first_seen = datetime(2030, 1, 1, tzinfo=UTC)
    _, grant = store.register(CONTROLLER_TOKEN, ["default/*"], ttl=timedelta(hours=1), now=first_seen)
    assert grant.expires_at == first_seen + timedelta(hours=1)

    later = first_seen + timedelta(minutes=30)
    same = store.register(CONTROLLER_TOKEN, ["default/*"], ttl=timedelta(hours=1), now=later)
    assert same == ("unchanged", grant)
    assert store.register(CONTROLLER_TOKEN, ["default/*"], now=later)[0] == "unchanged"
    result, longer = store.register(CONTROLLER_TOKEN, ["default/*"], ttl=timedelta(hours=2), now=later)

    assert result == "configured" and longer.expires_at == first_seen + timedelta(hours=2)
    assert store.authorize(CONTROLLER_TOKEN, PRODUCTPAGE, now=first_seen + timedelta(minutes=90))


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("short-token", "at least 22 characters, this one has 11"),
        ("with spaces inside the token 1234", "only hold URL-safe base64 letters"),
        ("padded+base64/token+letters==", "only hold URL-safe base64 letters"),
    ],
)
def test_a_registered_token_must_look_random(
    store: BootstrapTokens, store_path: Path, token: str, message: str
) -> None:
    with pytest.raises(TokenFormatError, match=message) as raised:
        store.register(token, ["default/*"])

    assert token not in str(raised.value)
    assert not store_path.exists()


def test_registering_needs_good_patterns(store: BootstrapTokens, store_path: Path) -> None:
    with pytest.raises(PatternError, match="at least one identity pattern"):
        store.register(CONTROLLER_TOKEN, [])
    with pytest.raises(PatternError, match="identity pattern 'default'"):
        store.register(CONTROLLER_TOKEN, ["default"])

    assert not store_path.exists()
