"""Gateway credential Secrets: which keys hold the chain, and the DER reading of certificate validity."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mesh_runtime.analysis.analyzers.credentials import (
    CredentialError,
    certificate_chain,
    check_certificate_chain,
    credential_problem,
    parse_certificates,
)
from mesh_runtime.resources import parse_resource

NOW = datetime(2030, 6, 1, tzinfo=UTC)


def _der(tag: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    length = bytes([len(body)]) if len(body) < 0x80 else bytes([0x82]) + len(body).to_bytes(2, "big")
    return bytes([tag]) + length + body


def certificate(not_before: tuple[int, bytes], not_after: tuple[int, bytes]) -> bytes:
    """A DER certificate with the X.509 outline and the given validity (tag, text); nothing else is real."""
    validity = _der(0x30, _der(*not_before), _der(*not_after))
    empty = _der(0x30)
    tbs = _der(
        0x30, _der(0xA0, _der(0x02, b"\x02")), _der(0x02, b"\x07"), empty, empty, validity, empty, empty
    )
    return _der(0x30, tbs, empty, _der(0x03, b"\x00"))


def pem(der: bytes, kind: str = "CERTIFICATE") -> bytes:
    return f"-----BEGIN {kind}-----\n{base64.encodebytes(der).decode()}-----END {kind}-----\n".encode()


def secret(data: dict[str, bytes] | None = None, string_data: dict[str, str] | None = None) -> object:
    body: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "n"},
    }
    if data is not None:
        body["data"] = {key: base64.b64encode(value).decode() for key, value in data.items()}
    if string_data is not None:
        body["stringData"] = string_data
    return parse_resource(body)


CURRENT = certificate((0x17, b"250101000000Z"), (0x18, b"20350101000000Z"))


def test_two_digit_years_pivot_at_1950() -> None:
    [old] = parse_certificates(certificate((0x17, b"500101000000Z"), (0x17, b"491231235959Z")))
    assert (old.not_before.year, old.not_after.year) == (1950, 2049)


def test_minute_precision_and_offsets_are_read_as_go_reads_them() -> None:
    [loose] = parse_certificates(certificate((0x17, b"2501010000Z"), (0x18, b"20350101000000.5+0100")))
    assert loose.not_before == datetime(2025, 1, 1, tzinfo=UTC)
    assert loose.not_after == datetime(2034, 12, 31, 23, tzinfo=UTC)


def test_a_chain_is_valid_only_if_every_certificate_is() -> None:
    expired = certificate((0x17, b"200101000000Z"), (0x17, b"210101000000Z"))
    check_certificate_chain(pem(CURRENT), NOW)
    assert len(parse_certificates(CURRENT + CURRENT)) == 2
    with pytest.raises(CredentialError, match="expired or not yet valid"):
        check_certificate_chain(pem(CURRENT + expired), NOW)


@pytest.mark.parametrize(
    ("der", "problem"),
    [
        (CURRENT[:-3], "truncated certificate"),
        (_der(0x02, b"\x01"), "not an X.509 certificate"),
        (
            certificate((0x17, b"2501Z"), (0x17, b"350101000000Z")),
            "validity date '2501Z' is malformed",
        ),
        (b"", "no certificate in the PEM block"),
    ],
)
def test_malformed_certificates(der: bytes, problem: str) -> None:
    with pytest.raises(CredentialError, match=problem):
        check_certificate_chain(pem(der), NOW)


def test_only_the_first_pem_block_is_read() -> None:
    with pytest.raises(CredentialError, match="not an X.509 certificate"):
        check_certificate_chain(pem(b"\x02\x01\x01", "PRIVATE KEY") + pem(CURRENT), NOW)
    with pytest.raises(CredentialError, match="no PEM block found"):
        check_certificate_chain(b"hush hush hush\n", NOW)


def test_which_keys_hold_the_chain() -> None:
    chain = pem(CURRENT)
    assert certificate_chain(secret({"cert": chain, "key": b"k", "tls.crt": b"x", "tls.key": b"k"})) == chain
    assert certificate_chain(secret({"tls.crt": chain, "tls.key": b"k"})) == chain
    assert certificate_chain(secret(string_data={"tls.crt": chain.decode(), "tls.key": "k"})) == chain
    with pytest.raises(CredentialError, match="found keys 'tls.crt' and 'tls.key', but they are empty"):
        certificate_chain(secret({"tls.crt": b"", "tls.key": b""}))
    with pytest.raises(CredentialError, match=r"found: ca\.crt, tls\.crt"):
        certificate_chain(secret({"tls.crt": chain, "ca.crt": chain}))


def test_istios_own_test_certificates(shared: Path) -> None:
    """The Secrets of Istio's analyzer cases: one valid until 2122, one expired in 2023."""
    testdata = shared / "conformance" / "istio-analyzers" / "testdata"
    documents = [
        *yaml.safe_load_all((testdata / "gateway-secrets.yaml").read_text()),
        *yaml.safe_load_all((testdata / "gateway-secrets-validation.yaml").read_text()),
    ]
    secrets = {d["metadata"]["name"]: parse_resource(d) for d in documents if d and d["kind"] == "Secret"}
    assert credential_problem(secrets["httpbin-credential"], NOW) is None
    assert credential_problem(secrets["expired-secret"], NOW) == "certificate is expired or not yet valid"
    assert credential_problem(secrets["expired-secret"], datetime(2023, 3, 14, 4, tzinfo=UTC)) is None
