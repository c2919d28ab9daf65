"""Agent password hashes: scrypt from the standard library, parameters stored in the hash."""

from __future__ import annotations

import base64

import pytest

from bot.handoff.passwords import (
    DEFAULT_PARAMS,
    FAST_TEST_PARAMS,
    ScryptParams,
    hash_password,
    verify_password,
)


def test_default_format_and_costs() -> None:
    stored = hash_password("correct-horse-battery")
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(key)) == 32
    assert DEFAULT_PARAMS == ScryptParams(2**14, 8, 1)
    assert verify_password("correct-horse-battery", stored)


def test_right_and_wrong_password() -> None:
    stored = hash_password("パスワード日本語もOK-123", FAST_TEST_PARAMS)
    assert verify_password("パスワード日本語もOK-123", stored)
    assert not verify_password("パスワード日本語もOK-124", stored)
    assert not verify_password("", stored)


def test_fresh_salt_each_time() -> None:
    a = hash_password("same-password-twice", FAST_TEST_PARAMS)
    b = hash_password("same-password-twice", FAST_TEST_PARAMS)
    assert a != b
    assert verify_password("same-password-twice", a) and verify_password("same-password-twice", b)


def test_parameters_come_from_the_hash() -> None:
    cheap = hash_password("long-enough-password", ScryptParams(n=2**5, r=4, p=2))
    assert cheap.startswith("scrypt$32$4$2$")
    assert verify_password("long-enough-password", cheap)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text-password",
        "pbkdf2_sha512$1000$c2FsdA==$a2V5",
        "scrypt$16$8$1$not base64!$a2V5",
        "scrypt$15$8$1$c2FsdA==$a2V5",  # n not a power of two
        "scrypt$16$8$1$c2FsdA==",
    ],
)
def test_malformed_hashes_never_match(stored: str) -> None:
    assert verify_password("anything-at-all", stored) is False


def test_bad_parameters_refused() -> None:
    with pytest.raises(ValueError):
        ScryptParams(n=1000)
    with pytest.raises(ValueError):
        ScryptParams(r=0)
