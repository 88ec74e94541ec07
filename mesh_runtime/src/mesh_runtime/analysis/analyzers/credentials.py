"""TLS credentials in Kubernetes Secrets, judged as Istio's gateways load them.

A gateway credential is a Secret with a certificate chain and a key under `cert`/`key` (a generic Secret) or
`tls.crt`/`tls.key` (a `kubernetes.io/tls` Secret). Istio serves it only if the first PEM block of the chain
holds X.509 certificates that are all valid now. The certificates are read with a small DER reader (the
outer structure and the validity dates); signatures and keys are not checked, as Istio does not check them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ...resources import Resource
from ...resources.fields import mapping

GENERIC_CERT, GENERIC_KEY = "cert", "key"
TLS_CERT, TLS_KEY = "tls.crt", "tls.key"

_PEM_BLOCK = re.compile(rb"-----BEGIN ([^\r\n]*?)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_SEQUENCE, _INTEGER, _BIT_STRING, _UTC_TIME, _GENERALIZED_TIME = 0x30, 0x02, 0x03, 0x17, 0x18
_VERSION_TAG = 0xA0
_UTC_TIME_TEXT = re.compile(r"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})")
_GENERALIZED_TIME_TEXT = re.compile(r"(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?(Z|[+-]\d{4})")


class CredentialError(ValueError):
    """Why a Secret cannot serve as a gateway's TLS credential."""


@dataclass(frozen=True, slots=True)
class Validity:
    not_before: datetime
    not_after: datetime


def credential_problem(secret: Resource, now: datetime) -> str | None:
    """Why `secret` is not a usable gateway credential at `now`, or None if it is."""
    try:
        check_certificate_chain(certificate_chain(secret), now)
    except CredentialError as exc:
        return str(exc)
    return None


def certificate_chain(secret: Resource) -> bytes:
    """The certificate chain of a gateway credential Secret (`cert`+`key` first, then `tls.crt`+`tls.key`)."""
    data = secret_data(secret)
    for cert_key, private_key in ((GENERIC_CERT, GENERIC_KEY), (TLS_CERT, TLS_KEY)):
        if data.get(cert_key) and data.get(private_key):
            return data[cert_key]
    for cert_key, private_key in ((GENERIC_CERT, GENERIC_KEY), (TLS_CERT, TLS_KEY)):
        if cert_key in data and private_key in data:
            raise CredentialError(f"found keys {cert_key!r} and {private_key!r}, but they are empty")
    found = ", ".join(sorted(data)) or "none"
    raise CredentialError(
        f"expected keys ({GENERIC_CERT} and {GENERIC_KEY}) or ({TLS_CERT} and {TLS_KEY}); found: {found}"
    )


def secret_data(secret: Resource) -> dict[str, bytes]:
    """A Secret's values: `data` decoded from base64, overlaid with `stringData` (as the API server does)."""
    values: dict[str, bytes] = {}
    for key, value in mapping(secret.body.get("data")).items():
        values[str(key)] = _decoded_secret_value(value)
    for key, value in mapping(secret.body.get("stringData")).items():
        values[str(key)] = str(value).encode() if value is not None else b""
    return values


def _decoded_secret_value(value: object) -> bytes:
    """A Secret's data value decoded (line breaks ignored); empty when it is not base64."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""


def check_certificate_chain(pem: bytes, now: datetime) -> None:
    """Raise CredentialError unless the first PEM block holds certificates all valid at `now`."""
    block = _first_pem_block(pem)
    for validity in parse_certificates(block):
        if now < validity.not_before or now > validity.not_after:
            raise CredentialError("certificate is expired or not yet valid")


def _first_pem_block(pem: bytes) -> bytes:
    match = _PEM_BLOCK.search(pem)
    if match is None:
        raise CredentialError("no PEM block found")
    body = b"".join(line for line in match.group(2).splitlines() if b":" not in line)
    try:
        return base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CredentialError("the PEM block is not valid base64") from exc


def parse_certificates(der: bytes) -> list[Validity]:
    """The validity of each DER certificate in `der` (one or several, concatenated)."""
    certificates: list[Validity] = []
    offset = 0
    while offset < len(der):
        tag, start, end = _element(der, offset)
        if tag != _SEQUENCE:
            raise CredentialError("not an X.509 certificate")
        certificates.append(_certificate_validity(der[start:end]))
        offset = end
    if not certificates:
        raise CredentialError("no certificate in the PEM block")
    return certificates


def _certificate_validity(certificate: bytes) -> Validity:
    """Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }."""
    parts = _children(certificate)
    if [tag for tag, _ in parts] != [_SEQUENCE, _SEQUENCE, _BIT_STRING]:
        raise CredentialError("not an X.509 certificate")
    fields = _children(parts[0][1])
    if fields and fields[0][0] == _VERSION_TAG:
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then optional extensions
    expected = [_INTEGER, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE]
    if [tag for tag, _ in fields[:6]] != expected:
        raise CredentialError("not an X.509 certificate")
    times = _children(fields[3][1])
    if len(times) != 2:
        raise CredentialError("the certificate's validity is malformed")
    return Validity(_time(*times[0]), _time(*times[1]))


def _children(der: bytes) -> list[tuple[int, bytes]]:
    children: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(der):
        tag, start, end = _element(der, offset)
        children.append((tag, der[start:end]))
        offset = end
    return children


def _element(der: bytes, offset: int) -> tuple[int, int, int]:
    """One DER element at `offset`: (tag, start of its value, end of its value)."""
    if offset + 2 > len(der):
        raise CredentialError("truncated certificate")
    tag, length = der[offset], der[offset + 1]
    position = offset + 2
    if tag & 0x1F == 0x1F:
        raise CredentialError("not an X.509 certificate")
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or position + size > len(der):
            raise CredentialError("malformed certificate")
        length = int.from_bytes(der[position : position + size], "big")
        position += size
    end = position + length
    if end > len(der):
        raise CredentialError("truncated certificate")
    return tag, position, end


def _time(tag: int, value: bytes) -> datetime:
    """A UTCTime (`YYMMDDhhmm[ss]Z`, 19xx from 50) or a GeneralizedTime (`YYYYMMDDhhmmss[.f]Z`)."""
    text = value.decode("ascii", errors="replace")
    pattern = {_UTC_TIME: _UTC_TIME_TEXT, _GENERALIZED_TIME: _GENERALIZED_TIME_TEXT}.get(tag)
    match = pattern.fullmatch(text) if pattern is not None else None
    if match is None:
        raise CredentialError(f"the certificate's validity date {text!r} is malformed")
    year, month, day, hour, minute, second, zone = match.groups()
    full_year = int(year) if len(year) == 4 else int(year) + (1900 if int(year) >= 50 else 2000)
    offset = timedelta(0)
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
    try:
        moment = datetime(
            full_year, int(month), int(day), int(hour), int(minute), int(second or 0), tzinfo=UTC
        )
    except ValueError as exc:
        raise CredentialError(f"the certificate's validity date {text!r} is malformed") from exc
    return moment - offset


def now_utc() -> datetime:
    return datetime.now(UTC)
