"""productpage's signed session cookie."""

from __future__ import annotations

import pytest

from bookinfo.session import KEY_VARIABLE, SessionCookies, cookie_value


def _cookie(set_cookie: str) -> str:
    return set_cookie.split(";")[0]


def test_a_signed_in_user_reads_back() -> None:
    sessions = SessionCookies(b"key")
    assert sessions.user(_cookie(sessions.sign_in("jason"))) == "jason"
    assert sessions.user("theme=dark; " + _cookie(sessions.sign_in("j\u00f6rg"))) == "j\u00f6rg"


def test_a_cookie_signed_with_another_key_is_no_session() -> None:
    assert SessionCookies(b"other").user(_cookie(SessionCookies(b"key").sign_in("jason"))) is None


def test_replicas_sharing_the_configured_key_accept_each_other() -> None:
    first, second = (SessionCookies.from_env({KEY_VARIABLE: "shared"}) for _ in range(2))
    assert second.user(_cookie(first.sign_in("jason"))) == "jason"
    assert SessionCookies.from_env({}).user(_cookie(first.sign_in("jason"))) is None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "session=",
        "session=abc",
        "session=abc.def",
        "session=\u00e9.\u00e9",
        "other=1",
        "session=...",
    ],
)
def test_anything_else_is_no_session(header: str | None) -> None:
    assert SessionCookies(b"key").user(header) is None


def test_a_tampered_payload_is_no_session() -> None:
    sessions = SessionCookies(b"key")
    _, signature = _cookie(sessions.sign_in("jason")).removeprefix("session=").split(".")
    forged = SessionCookies(b"key")._sign({"user": "admin"}).split(".")[0]
    assert sessions.user(f"session={forged}.{signature}") is None


def test_sign_out_expires_the_cookie() -> None:
    assert (
        SessionCookies(b"k")
        .sign_out()
        .startswith("session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0")
    )


@pytest.mark.parametrize(
    ("header", "value"),
    [("a=1; session=x; b=2", "x"), ('session="q"', "q"), ("sessionx=1", None), ("a", None)],
)
def test_cookie_value(header: str, value: str | None) -> None:
    assert cookie_value(header, "session") == value
