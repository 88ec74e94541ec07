"""VirtualService corsPolicy: every bad value is an error naming its field; what Istio accepts passes."""

from __future__ import annotations

import pytest

from .conftest import FindingsOf, errors


def cors_spec(policy: str) -> str:
    return f"hosts: [reviews]\nhttp: [{{corsPolicy: {policy}, route: [{{destination: {{host: reviews}}}}]}}]"


CORS = "spec.http[0].corsPolicy"


@pytest.mark.parametrize(
    ("policy", "path", "says"),
    [
        ("{allowOrigins: [{}]}", f"{CORS}.allowOrigins[0]", "must set exact, prefix or regex"),
        ("{allowOrigins: [{exact: ''}]}", f"{CORS}.allowOrigins[0]", "non-empty origin"),
        ("{allowOrigins: [{exact: a, prefix: b}]}", f"{CORS}.allowOrigins[0]", "only one of exact, prefix"),
        ("{allowOrigins: [{regex: '(?=a)'}]}", f"{CORS}.allowOrigins[0].regex", "not a valid RE2"),
        ("{allowOrigins: 'https://a.example'}", f"{CORS}.allowOrigins", "must be a list"),
        ("{allowMethods: [get]}", f"{CORS}.allowMethods[0]", '"get" is not an HTTP method'),
        ("{allowHeaders: ['x token']}", f"{CORS}.allowHeaders[0]", "not a valid header name"),
        ("{exposeHeaders: ['x:y']}", f"{CORS}.exposeHeaders[0]", "not a valid header name"),
        ("{maxAge: soon}", f"{CORS}.maxAge", "must be a duration"),
        ("{maxAge: 0s}", f"{CORS}.maxAge", "at least 1ms"),
        ("{maxAge: 60}", f"{CORS}.maxAge", "must be a string"),
        ("{allowCredentials: 'yes'}", f"{CORS}.allowCredentials", "must be true or false"),
        ("{unmatchedPreflights: DROP}", f"{CORS}.unmatchedPreflights", "must be one of UNSPECIFIED"),
        ("{allowedOrigins: []}", f"{CORS}.allowedOrigins", "unknown field"),
    ],
)
def test_bad_cors_values_name_the_field(findings_of: FindingsOf, policy: str, path: str, says: str) -> None:
    found = [f for f in errors(findings_of("VirtualService", cors_spec(policy))) if f.path == path]
    assert found, [(f.path, f.message) for f in findings_of("VirtualService", cors_spec(policy))]
    assert says in found[0].message


@pytest.mark.parametrize(
    "policy",
    [
        "{allowOrigins: [{exact: 'https://a.example'}, {prefix: 'https://b.'}, {regex: '.*\\.c\\.example'}]}",
        "{allowOrigins: [{exact: '*'}], allowHeaders: ['*'], allowMethods: [GET, OPTIONS]}",
        "{allowOrigin: ['https://a.example'], maxAge: 24h, allowCredentials: false}",
        "{allowOrigins: [{exact: o}], exposeHeaders: [x-a], unmatchedPreflights: IGNORE}",
        "{allowOrigins: [{exact: o}], unmatchedPreflights: FORWARD}",
    ],
)
def test_cors_istio_accepts_has_no_errors(findings_of: FindingsOf, policy: str) -> None:
    assert errors(findings_of("VirtualService", cors_spec(policy))) == []
