"""The portal's contract as the bot relies on it: written once, both sides take it from here.

The bot's forms, NLU and masking, the portal client (``bot.portal_client``) and the
reference portal (``dev/portal/``, the stand-in for the society's real portal) all
import these values, so they cannot drift apart again. Plain Python: no Rasa, no
web framework. The API as a whole (paths, bodies) is described by
``dev/portal/openapi.json``; a test keeps its ticket pattern equal to the one here.

What a society states for itself (its user-ID lengths, its voluntary-continuation
IDs, its password rules) is in ``data/societies.yml``; the rule that turns those
numbers into "accepted or why not" is :func:`user_id_problem`, here.

Not here: the reference portal's development tokens. They are secrets of a dev
tool (``dev/portal/settings.py``), not something the real portal and the bot share;
the client needs a real ``KOSMO_PORTAL_SERVICE_TOKEN``.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Collection, Optional

# ------------------------------------------------------------------ the society on the wire

# The portal API names the society "tenant": the body field of every helpdesk and
# member request, the query parameter of a ticket lookup, a ticket's field in the
# answers, and the "field" of an error about the society. It is the portal's wire
# name (openapi.json), shared with the real portal, so it stays as it is while the
# bot's own code, data and settings say "society" (README: "Societies").
SOCIETY_FIELD = "tenant"
# the 422 ``reason`` for a society the portal does not know
UNKNOWN_SOCIETY = "unknown_tenant"

# ------------------------------------------------------------------ user IDs

# What a user ID is made of, compared lower-case: half-width letters, digits and
# - _ . @ (ono's manual: 英字は大文字での入力は可能ですが、小文字に変換されます).
USER_ID_CHARS = frozenset(string.ascii_lowercase + string.digits + "-_.@")
# KOSMO Web's length of a user ID a member chooses: ono's manual says 8文字～13文字.
# Kose's manual states no rule (its example ID, k0s181bu4, fits); it is the same
# portal, so the same rule. Each society's numbers are in data/societies.yml (user_id);
# these are the defaults and what the bot assumes before it knows the society.
USER_ID_MIN_LENGTH = 8
USER_ID_MAX_LENGTH = 13
# A voluntary-continuation member's user ID is digits only (symbol + number + birth
# date, ono: 3 + 4 or 5 + 8) and longer than a chosen one; its society lists the
# lengths in data/societies.yml (voluntary_continuation.user_id_lengths), at most this.
DIGITS_USER_ID_MAX_LENGTH = 16

# why a user ID is refused (the portal's 422 ``reason``)
USER_ID_LENGTH = "length"
USER_ID_CHARACTERS = "characters"


def user_id_problem(
    value: str,
    *,
    min_length: int = USER_ID_MIN_LENGTH,
    max_length: int = USER_ID_MAX_LENGTH,
    digit_lengths: Collection[int] = (),
) -> Optional[str]:
    """Why ``value`` (already width-folded and lower-cased) is no user ID, or None.

    ``digit_lengths``: lengths at which an ID of digits only is taken besides the
    chosen-ID rule (a society's voluntary-continuation IDs).
    """
    if value.isascii() and value.isdigit() and len(value) in digit_lengths:
        return None
    if not min_length <= len(value) <= max_length:
        return USER_ID_LENGTH
    if any(ch not in USER_ID_CHARS for ch in value):
        return USER_ID_CHARACTERS
    return None


# ------------------------------------------------------------------ codes and tickets

OTP_CODE_DIGITS = 6
OTP_CODE_RE = re.compile(rf"^[0-9]{{{OTP_CODE_DIGITS}}}$")

# Unlock ticket numbers: UL- and six characters from 32 letters and digits without
# 0/O and 1/I (about 10^9 numbers), made by the portal with ``secrets``.
TICKET_ID_PREFIX = "UL-"
TICKET_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
TICKET_ID_LENGTH = 6
TICKET_ID_PATTERN = rf"^{TICKET_ID_PREFIX}[{TICKET_ID_ALPHABET}]{{{TICKET_ID_LENGTH}}}$"
TICKET_ID_RE = re.compile(TICKET_ID_PATTERN)

# ------------------------------------------------------------------ what members type

# Hyphen look-alikes that Japanese keyboards produce in place of "-" (dashes, the
# minus sign, the long-vowel mark ー, their full- and half-width forms): both sides
# read them as "-" (user IDs, ticket numbers, dates).
HYPHENS = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff0d\uff70\u2500\u02d7"
HYPHEN_TABLE = {ord(ch): "-" for ch in HYPHENS}

# No birth date before this is taken (nor one in the future).
EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)

# ------------------------------------------------------------------ errors

# Every error answer is JSON {"error": <code>, "field": <request field or null>,
# "message": ...}; these are the codes the client tells apart (bot/portal_client/errors.py).
ERROR_VALIDATION = "validation_error"  # 422; adds "reason" (e.g. USER_ID_LENGTH)
ERROR_NOT_FOUND = "not_found"  # 404: no such ticket for this society (or not the asker's)
ERROR_RATE_LIMITED = "rate_limited"  # 429 with Retry-After (seconds)
ERROR_OTP_METHOD_MISMATCH = "otp_method_mismatch"  # 409: the society uses the other OTP method
