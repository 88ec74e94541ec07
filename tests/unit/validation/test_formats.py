"""String formats Istio gives meaning to: durations, hosts, IPs and CIDRs, RE2 regexes, labels, headers."""

from __future__ import annotations

import pytest

from mesh_runtime.validation import formats


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("1ms", 1_000_000),
        ("0.5s", 500_000_000),
        (".5s", 500_000_000),
        ("1h30m", 5_400_000_000_000),
        ("2h45m30.5s", 9_930_500_000_000),
        ("100us", 100_000),
        ("100\u00b5s", 100_000),
        ("7ns", 7),
        ("-1s", -1_000_000_000),
        ("+3m", 180_000_000_000),
    ],
)
def test_go_durations_parse(text: str, nanos: int) -> None:
    assert formats.parse_duration(text) == nanos


@pytest.mark.parametrize(
    "text", ["", "1", "1x", "s", "1.s.", "1 s", "1s ", "--1s", "1d", "one second", "1" * 70 + "s"]
)
def test_not_durations(text: str) -> None:
    assert formats.parse_duration(text) is None


def test_duration_check_needs_one_millisecond_at_millisecond_precision() -> None:
    check = formats.duration()
    assert check("10s") is None
    assert check("1ms") is None
    assert check("0s") == 'must be a duration of at least 1ms, found "0s"'
    assert check("1500us") == 'must be a whole number of milliseconds, found "1500us"'
    assert check("10 s") == 'must be a duration such as 500ms, 10s, 1m or 1h30m, found "10 s"'


@pytest.mark.parametrize(
    "host",
    [
        "reviews",
        "reviews.default.svc.cluster.local",
        "*",
        "*.example.com",
        "*-suffix.example.com",
        "istio.io.",
    ],
)
def test_wildcard_hosts(host: str) -> None:
    assert formats.wildcard_host(host) is None


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("*.foo.*", 'label "*" is invalid; a wildcard may only be the whole leftmost label'),
        ("foo.*.com", 'label "*" is invalid'),
        ("a..b", 'label "" is invalid; it has an empty label'),
        ("under_score.com", 'label "under_score" is invalid'),
        ("example.123", 'its top-level domain "123" is all digits'),
        ("", "must be a host name, found an empty string"),
        ("a" * 256, "is too long: at most 255 characters"),
        ("-a.com", 'label "-a" is invalid'),
    ],
)
def test_bad_hosts(host: str, problem: str) -> None:
    found = formats.wildcard_host(host)
    assert found is not None and problem in found


def test_fqdn_has_no_wildcards() -> None:
    assert formats.fqdn("a.example.com") is None
    assert formats.fqdn("*.example.com") is not None


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10.0.0.1", True),
        ("2001:db8::1", True),
        ("10.0.0.0/8", True),
        ("10.0.0.1/8", True),
        ("2001:db8::/32", True),
        ("10.0.0.256", False),
        ("010.0.0.1", False),
        ("10.0.0.0/33", False),
        ("10.0.0.0/255.0.0.0", False),
        ("10.0.0.0/08", False),
        ("10.0.0.0//8", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_ip_or_cidr(value: str, valid: bool) -> None:
    assert (formats.ip_or_cidr(value) is None) == valid


def test_regexes_are_re2() -> None:
    assert formats.regex("(?i)^/api/v[0-9]+$") is None
    assert formats.regex(r"\d{3}-\w+") is None
    lookahead = formats.regex("foo(?!bar)")
    assert lookahead is not None and "not a valid RE2 regular expression" in lookahead
    backreference = formats.regex(r"(a)\1")
    assert backreference is not None and "invalid escape sequence" in backreference
    assert formats.regex("") == "must be a regular expression, found an empty string"
    assert formats.regex("a" * 1025) == "regular expression is too long: at most 1024 characters, found 1025"


def test_invalid_regexes_log_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    assert formats.regex("a(b") is not None
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("a_b.c-d", True),
        ("-app", False),
        ("app/", False),
        ("a/b/c", False),
        ("x" * 64, False),
        ("a" * 254 + "/name", False),
    ],
)
def test_label_keys(key: str, valid: bool) -> None:
    assert (formats.label_key(key) is None) == valid


def test_label_values() -> None:
    assert formats.label_value("") is None
    assert formats.label_value("v1.2_rc-3") is None
    assert formats.label_value("not valid!") is not None


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("plain", True),
        ("100%%", True),
        ("%HOSTNAME%", True),
        ('%REQ(["x-id"])%', True),
        ("prefix %START_TIME% suffix", True),
        ("abc%", False),
        ("%UNCLOSED", False),
        ("line\nbreak", False),
    ],
)
def test_header_values(value: str, valid: bool) -> None:
    assert (formats.header_value(value) is None) == valid


def test_partial_wildcards() -> None:
    assert formats.partial_wildcard("*.example.com") is None
    assert formats.partial_wildcard("*") is None
    assert (
        formats.partial_wildcard("*foo.com")
        == 'partial wildcard "*foo.com" is not allowed: use * alone or a leftmost *. label'
    )
