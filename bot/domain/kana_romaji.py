"""Which Latin words of a message read as romaji, and as what hiragana (jaconv).

:func:`romaji_kana` converts one word and checks that jaconv placed every
letter; :func:`_latin_words` finds the words of Latin letters only (tokens
with digits or symbols, and short capitals such as ID or OTP, are not words
here). :func:`bot.domain.kana_terms.rewrite_romaji` decides with the term vocabulary
what is rewritten.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import List, Optional

import jaconv

# a message's romaji words handled at most; a member does not write more in romaji
MAX_ROMAJI_WORDS = 200
MAX_ROMAJI_WORD_CHARS = 40
_SMALL_OR_N = frozenset("ぁぃぅぇぉゃゅょっゎゕゖん")
_NO_SOKUON_BEFORE = frozenset("あいうえおぁぃぅぇぉゃゅょっんゎーをゐゑ")
_ASCII_RUN_RE = re.compile(r"[\x21-\x7e]+")
_ASCII_LETTERS_RE = re.compile("[A-Za-z]")
_LETTERS_ONLY_RE = re.compile("[A-Za-z]+")
_EDGE_PUNCTUATION = ".,!?;:'\"()[]{}<>"


def romaji_kana(word: str) -> Optional[str]:
    """A Latin word as hiragana (jaconv), or None when it does not read as romaji.

    jaconv turns any letter it cannot place into っ ("log" → ろっ, "my" → んっ),
    so its output counts as romaji only if no Latin letter is left, it starts
    with a full mora and every っ stands before a consonant's mora.
    """
    if len(word) > MAX_ROMAJI_WORD_CHARS:
        return None
    return _checked_kana(jaconv.alphabet2kana(word.lower()))


def _romaji_kana_all(words: List[str]) -> List[Optional[str]]:
    """:func:`romaji_kana` of each word, with one jaconv pass over them all (it makes
    ~100 passes over its input, whatever its length)."""
    if any(len(word) > MAX_ROMAJI_WORD_CHARS for word in words):
        return [romaji_kana(word) for word in words]
    converted = jaconv.alphabet2kana("\n".join(words).lower()).split("\n")
    if len(converted) != len(words):  # never seen; the one-by-one way is the reference
        return [romaji_kana(word) for word in words]
    return [_checked_kana(kana) for kana in converted]


def _checked_kana(kana: str) -> Optional[str]:
    if not kana or _ASCII_LETTERS_RE.search(kana) or kana[0] in _SMALL_OR_N:
        return None
    for index, char in enumerate(kana):
        if char == "っ" and (index + 1 == len(kana) or kana[index + 1] in _NO_SOKUON_BEFORE):
            return None
    if not all("ぁ" <= c <= "ゖ" or c == "ー" for c in kana):
        return None
    return kana


@dataclass(frozen=True)
class _LatinWord:
    start: int
    end: int
    text: str


def _latin_words(text: str) -> Optional[List[_LatinWord]]:
    """The message's words of Latin letters only, or None when there are too many.

    Tokens mixing letters with digits or symbols (IDs, addresses, URLs, ticket
    numbers) and capitals of at most three letters (ID, OTP, PC) are not words
    here: they stay as typed and do not stop the conversion.
    """
    words: List[_LatinWord] = []
    for m in _ASCII_RUN_RE.finditer(text):
        run = m.group(0)
        core = run.strip(_EDGE_PUNCTUATION)
        if not core or not _LETTERS_ONLY_RE.fullmatch(core):
            continue
        if core.isupper() and len(core) <= 3:
            continue
        start = m.start() + run.index(core)
        words.append(_LatinWord(start, start + len(core), core))
        if len(words) > MAX_ROMAJI_WORDS:
            return None
    return words


def _only_ascii_and_punctuation(text: str) -> bool:
    return all(c.isascii() or c.isspace() or unicodedata.category(c).startswith("P") for c in text)
