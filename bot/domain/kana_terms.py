"""One spelling for the katakana words members write in hiragana, romaji or another width.

Members type on phones and often do not convert: 「ろぐいん できまぜん」,
「ﾜﾝﾀｲﾑﾊﾟｽﾜｰﾄﾞ」, "pasuwaado wasureta", 「パスワアド」. Sudachi reads
「ろぐいん」 as ろ + ぐいん, so the NLU saw no ログイン and answered the nearest
topic it knew (how to log *out*). :func:`normalise` writes such spellings as the
katakana word the bot was trained on; nothing here knows a word of the domain:

- **width** (:func:`fold_width`, jaconv): half-width katakana to full-width,
  full-width letters, digits and spaces to ASCII;
- **terms** (:class:`TermVocabulary`): the katakana words of the training data
  (and of the answers), learned at training time. A word is kept if Sudachi reads
  it as a loanword (known, normalised to katakana: パスワード, ログイン), not a
  Japanese word written in katakana (アリガトウ → 有り難う, カクニン unknown).
  A word's hiragana spelling is accepted only where Sudachi does not read it as
  ordinary Japanese (ろぐいん → ろ + ぐいん is not Japanese; さいと → 際 + と is,
  so サイト is never made of 「くださいと」);
- **long vowels**: words are matched by a key without ー/〜 and without a vowel
  that only lengthens the one before (あ after a-row, う after o-row, い after
  e-row...), so パスワアド, パスワド and ぱすわーど all meet パスワード;
- **romaji** (jaconv): Latin words are converted only when every Latin word of
  the message reads as romaji and at least one holds a known term, so English
  ("Hello, I cannot log in", "my password") is never touched. Tokens with
  digits or symbols (kose.hanako, tanaka_ichiro88, e-mail addresses, URLs,
  UL-7F3K9Q) and short capitals (ID, OTP) are left as typed and do not count.
  A message written entirely in romaji is converted whole (wasureta → わすれた),
  so that Sudachi finds its verbs too. Which Latin words read as romaji, and as
  what kana, is :mod:`bot.domain.kana_romaji`.

Every step is one pass over the text with bounded work per character (term keys
are at most ``MAX_KEY_CHARS`` long and looked up through their prefixes);
:func:`normalise` reads at most ``max_chars`` characters.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

import jaconv

from bot.domain.kana_romaji import (
    _ASCII_LETTERS_RE,
    _latin_words,
    _LatinWord,
    _only_ascii_and_punctuation,
    _romaji_kana_all,
)

# a term key longer than this is not kept (the longest in our data is 17)
MAX_KEY_CHARS = 32
# a matched hiragana/romaji key shorter than this is too likely to be Japanese
MIN_KEY_CHARS = 3

LONG_MARKS = frozenset("ー〜~")
# a vowel that after a mora of this vowel only lengthens it (パスワアド, ロオグ, メイル)
_LENGTHENS = {"a": "あ", "i": "い", "u": "う", "e": "えい", "o": "おう"}

_HALF_WIDTH_KANA_RE = re.compile("[\uff61-\uff9f]")
_FULL_WIDTH_ASCII_RE = re.compile("[\u3000\uff01-\uff5e]")
_KANA_RUN_RE = re.compile("[ぁ-ゖァ-ヺ][ぁ-ゖァ-ヺー〜~]*")
_KATAKANA_RUN_RE = re.compile("[ァ-ヺ][ァ-ヺー]*")
_KATAKANA_WORD_RE = re.compile("[ァ-ヺー]+")
_HIRAGANA_RE = re.compile("[ぁ-ゖ]")


def fold_width(text: str) -> str:
    """Half-width katakana to full-width, full-width ASCII (and the ideographic space) to ASCII.

    jaconv's conversions, each only when the text has such characters (most
    messages have none). Unlike NFKC, other characters stay as typed.
    """
    if _HALF_WIDTH_KANA_RE.search(text):
        text = jaconv.h2z(text, kana=True, ascii=False, digit=False)
    if _FULL_WIDTH_ASCII_RE.search(text):
        text = jaconv.z2h(text, kana=False, ascii=True, digit=True)
    return text


@functools.lru_cache(maxsize=1)
def _vowels() -> Dict[str, str]:
    """The vowel each hiragana ends in (from jaconv's romaji; ん, っ and others have none).

    Built on first use, not at import."""
    vowels: Dict[str, str] = {}
    for code in range(ord("ぁ"), ord("ゖ") + 1):
        romaji = jaconv.kana2alphabet(chr(code))
        if romaji and romaji[-1] in "aiueo":
            vowels[chr(code)] = romaji[-1]
    return vowels


@dataclass(frozen=True)
class _Keyed:
    """A kana run as hiragana without lengthening: ``key`` and where each key character came from."""

    key: str
    # the run's index of each key character
    origin: Tuple[int, ...]
    # for each index of the run: dropped (a long mark or lengthening vowel)
    dropped: Tuple[bool, ...]
    hiragana: str


def keyed(run: str, hiragana: Optional[str] = None) -> Optional[_Keyed]:
    """The long-vowel-free hiragana key of a kana run, or None if jaconv changes its length."""
    hiragana = jaconv.kata2hira(run) if hiragana is None else hiragana
    if len(hiragana) != len(run):
        return None
    vowels = _vowels()
    key: List[str] = []
    origin: List[int] = []
    dropped: List[bool] = []
    lengthening = ""  # what lengthens the mora before (あ after a-row, ...)
    for index, char in enumerate(hiragana):
        if index and (char in LONG_MARKS or char in lengthening):
            dropped.append(True)
            continue
        dropped.append(False)
        key.append(char)
        origin.append(index)
        lengthening = _LENGTHENS.get(vowels.get(char, ""), "")
    return _Keyed("".join(key), tuple(origin), tuple(dropped), hiragana)


def term_key(term: str) -> str:
    """The key a katakana term is found by (パスワード → ぱすわど)."""
    found = keyed(term)
    return found.key if found else ""


def _candidate_re(pairs: Iterable[str]) -> Optional["re.Pattern[str]"]:
    """One pattern for "a key's first two characters", by first character: ろ[ー…]*[ぐっ]|…"""
    seconds: Dict[str, set] = {}
    for pair in pairs:
        seconds.setdefault(pair[0], set()).add(pair[1])
    if not seconds:
        return None
    marks = "".join(sorted(LONG_MARKS))
    vowels = _vowels()
    return re.compile(
        "|".join(
            f"{re.escape(first)}[{re.escape(marks + _LENGTHENS.get(vowels.get(first, ''), ''))}]*"
            f"[{re.escape(''.join(sorted(second)))}]"
            for first, second in sorted(seconds.items())
        )
    )


@dataclass
class TermVocabulary:
    """The katakana terms the bot knows, by key, and whether their hiragana spelling is taken.

    ``terms`` maps each term to True when its hiragana spelling may be replaced
    (Sudachi does not read that spelling as Japanese words). Built by
    :func:`learn_terms` at training time and kept with the model as JSON.
    """

    terms: Dict[str, bool] = field(default_factory=dict)
    counts: Dict[str, int] = field(default_factory=dict)
    _by_key: Dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _prefixes: FrozenSet[str] = field(default_factory=frozenset, init=False, repr=False)
    _first_pairs: FrozenSet[str] = field(default_factory=frozenset, init=False, repr=False)
    _candidate: Optional["re.Pattern[str]"] = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        by_key: Dict[str, str] = {}
        # one term per key: the most frequent, then the longer, then the first in order
        ranked = sorted(self.terms, key=lambda t: (-self.counts.get(t, 0), -len(t), t))
        for term in ranked:
            key = term_key(term)
            if 2 <= len(key) <= MAX_KEY_CHARS:
                by_key.setdefault(key, term)
        self._by_key = by_key
        self._prefixes = frozenset(k[:n] for k in by_key for n in range(1, len(k) + 1))
        self._first_pairs = frozenset(k[:2] for k in by_key)
        self._candidate = _candidate_re(self._first_pairs)

    def may_hold_term(self, hiragana: str) -> bool:
        """Whether a hiragana text has a key's first two characters, perhaps with
        lengthening between them (a quick test that most particles and okurigana fail)."""
        return self._candidate is not None and self._candidate.search(hiragana) is not None

    def may_start(self, pair: str) -> bool:
        """Whether a key starts with these two characters (most positions of a text: no)."""
        return pair in self._first_pairs

    def term_for(self, key: str) -> Optional[str]:
        return self._by_key.get(key)

    def is_prefix(self, key: str) -> bool:
        return key in self._prefixes

    def hiragana_ok(self, term: str) -> bool:
        return self.terms.get(term, False)

    def __len__(self) -> int:
        return len(self._by_key)

    def to_json(self) -> Dict[str, Any]:
        return {"version": 1, "terms": dict(sorted(self.terms.items())), "counts": self.counts}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TermVocabulary":
        """The vocabulary saved by :meth:`to_json`; anything unexpected is left out."""
        terms = data.get("terms") if isinstance(data, Mapping) else None
        counts = data.get("counts") if isinstance(data, Mapping) else None
        terms = terms if isinstance(terms, Mapping) else {}
        counts = counts if isinstance(counts, Mapping) else {}
        return cls(
            terms={
                t: bool(ok)
                for t, ok in terms.items()
                if isinstance(t, str) and _KATAKANA_WORD_RE.fullmatch(t)
            },
            counts={t: n for t, n in counts.items() if isinstance(t, str) and isinstance(n, int)},
        )


# ------------------------------------------------------------------ learning

# (surface, normalized_form, part_of_speech[0], is_oov) of each morpheme
Morpheme = Tuple[str, str, str, bool]
Analyse = Callable[[str], List[Morpheme]]


def sudachi_analyser() -> Analyse:
    """Sudachi (the tokenizer's dictionary, longest units) as :data:`Analyse`; for training only."""
    from sudachipy import Dictionary, SplitMode

    tokenizer = Dictionary(dict="core").tokenizer()

    def analyse(text: str) -> List[Morpheme]:
        return [
            (m.surface(), m.normalized_form(), m.part_of_speech()[0], m.is_oov())
            for m in tokenizer.tokenize(text, SplitMode.C)
        ]

    return analyse


def _is_loanword(morphemes: List[Morpheme]) -> bool:
    """Known words, each normalised to katakana: パスワード, ワンタイム + パスワード, ユーザ → ユーザー."""
    return bool(morphemes) and all(
        not oov and _KATAKANA_WORD_RE.fullmatch(normal) for _, normal, _, oov in morphemes
    )


def _reads_as_japanese(morphemes: List[Morpheme]) -> bool:
    """Whether Sudachi makes ordinary words of a hiragana spelling (さいと → 際 と, どこも → どこ も).

    A spelling that is not Japanese falls apart into one-character pieces that are
    not particles (ろぐいん → ろ ぐいん, ぱすわーど → ぱ す わー ど) or into the
    katakana word itself (ろっく → ロック, めーる → メール).
    """
    for surface, normal, pos, oov in morphemes:
        if oov or _KATAKANA_WORD_RE.fullmatch(normal):
            return False
        if len(surface) == 1 and pos not in ("助詞", "助動詞"):
            return False
    return True


def katakana_words(texts: Iterable[str]) -> Counter:
    """How often each run of katakana stands in the texts (after :func:`fold_width`)."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(_KATAKANA_RUN_RE.findall(fold_width(text)))
    return counts


def learn_terms(texts: Iterable[str], analyse: Optional[Analyse] = None) -> TermVocabulary:
    """The katakana terms of ``texts`` (training examples, answers), with the loanword parts of compounds.

    ワンタイムパスワード gives ワンタイム and パスワード too, so "wantaimu" alone
    is found. Words Sudachi does not read as loanwords are left out (see the
    module docstring), and so are words whose key has fewer than two characters.
    """
    analyse = analyse or sudachi_analyser()
    counts = katakana_words(texts)
    for word, count in list(counts.items()):
        morphemes = analyse(word)
        if len(morphemes) > 1 and _is_loanword(morphemes):
            for surface, _, _, _ in morphemes:
                if _KATAKANA_RUN_RE.fullmatch(surface):
                    counts[surface] += count
    terms: Dict[str, bool] = {}
    for word in counts:
        key = term_key(word)
        if not 2 <= len(key) <= MAX_KEY_CHARS or not _is_loanword(analyse(word)):
            continue
        hiragana = jaconv.kata2hira(word)
        terms[word] = "ー" in hiragana or not _reads_as_japanese(analyse(hiragana))
    return TermVocabulary(terms=terms, counts={t: counts[t] for t in terms})


# ------------------------------------------------------------------ kana


def _accepts(vocabulary: TermVocabulary, span: str, key: str, term: str, *, romaji: bool) -> bool:
    """Whether ``span`` (of key ``key``) may be written as ``term``."""
    if span == term:
        return True
    if not romaji and _HIRAGANA_RE.search(span) and not vocabulary.hiragana_ok(term):
        return False
    if len(key) >= MIN_KEY_CHARS:
        return True
    # a two-character key only for a long word written long (めーる, ユーザ)
    return "ー" in term and len(span) > len(key)


def _starts(run: _Keyed) -> Iterable[Tuple[int, str, int]]:
    """(run index, key prefix, key index) where a term may start: every kept character,
    and every dropped vowel (the あ of 「でーたあぷり」 is アプリ's)."""
    key_index = 0
    for index, dropped in enumerate(run.dropped):
        if not dropped:
            yield index, "", key_index
            key_index += 1
        elif run.hiragana[index] not in LONG_MARKS:
            yield index, run.hiragana[index], key_index


def _longest_term(
    vocabulary: TermVocabulary, run: _Keyed, prefix: str, key_index: int
) -> Optional[Tuple[str, int]]:
    """(term, key characters used) of the longest known key at this start, or None."""
    found: Optional[Tuple[str, int]] = None
    key = prefix or run.key[key_index : key_index + 1]
    index = key_index + (not prefix)
    if not vocabulary.may_start(key + run.key[index : index + 1]):
        return None
    while index < len(run.key) and len(key) < MAX_KEY_CHARS:
        key += run.key[index]
        index += 1
        if not vocabulary.is_prefix(key):
            break
        term = vocabulary.term_for(key)
        if term is not None:
            found = (term, index - key_index)
    return found


def _lengthened_end(run: str, dropped: Tuple[bool, ...], end: int, term: str) -> int:
    """Where a term's span ends: over the long marks after it, and over one
    lengthening vowel if the term ends long and its span does not (ゆうざあ, not
    the あ of 「ゆーざーあいでぃー」)."""
    if term.endswith("ー") and end < len(run) and dropped[end] and run[end - 1] not in LONG_MARKS:
        end += 1
    while end < len(run) and dropped[end] and run[end] in LONG_MARKS:
        end += 1
    return end


def rewrite_run(vocabulary: TermVocabulary, run: str, *, romaji: bool = False) -> Tuple[str, int]:
    """A kana run with known terms in their katakana spelling, and how many terms it held.

    Left to right, the longest known key first; a term's span reaches over the
    long marks after it, and the lengthening vowels if the term ends long
    (ゆうざあ → ユーザー).
    """
    if run in vocabulary.terms:
        return run, 1
    hiragana = jaconv.kata2hira(run)
    if not vocabulary.may_hold_term(hiragana):
        return run, 0
    found = keyed(run, hiragana)
    if found is None:
        return run, 0
    pieces: List[str] = []
    done = 0  # the run's characters before this are in pieces
    terms = 0
    for index, prefix, key_index in _starts(found):
        if index < done:
            continue
        match = _longest_term(vocabulary, found, prefix, key_index)
        if match is None:
            continue
        term, used = match
        last = key_index + used - 1
        end = found.origin[last] + 1 if used else index + 1
        end = _lengthened_end(run, found.dropped, end, term)
        span = run[index:end]
        if not _accepts(
            vocabulary, span, prefix + found.key[key_index : key_index + used], term, romaji=romaji
        ):
            continue
        pieces.append(run[done:index])
        pieces.append(term)
        done = end
        terms += 1
    pieces.append(run[done:])
    return "".join(pieces), terms


def rewrite_kana(vocabulary: TermVocabulary, text: str) -> str:
    """Every kana run of ``text`` through :func:`rewrite_run`."""
    if not len(vocabulary):
        return text
    return _KANA_RUN_RE.sub(lambda m: rewrite_run(vocabulary, m.group(0))[0], text)


# ------------------------------------------------------------------ romaji


def rewrite_romaji(vocabulary: TermVocabulary, text: str) -> str:
    """Romaji words as kana when the message's Latin words are all romaji and one holds a term.

    Words holding a term become that term (in kana around it); in a message of
    nothing but romaji every word becomes kana.
    """
    if not len(vocabulary) or not _ASCII_LETTERS_RE.search(text):
        return text
    words = _latin_words(text)
    if not words:
        return text
    converted: List[Tuple[_LatinWord, str, int]] = []
    for word, kana in zip(words, _romaji_kana_all([w.text for w in words]), strict=True):
        if kana is None:
            return text  # English, or something else that is not romaji
        rewritten, terms = rewrite_run(vocabulary, kana, romaji=True)
        converted.append((word, rewritten, terms))
    if not any(terms for _, _, terms in converted):
        return text
    whole = _only_ascii_and_punctuation(text)
    pieces: List[str] = []
    done = 0
    for word, rewritten, terms in converted:
        if terms or whole:
            pieces.append(text[done : word.start])
            pieces.append(rewritten)
            done = word.end
    pieces.append(text[done:])
    return "".join(pieces)


def normalise(text: str, vocabulary: TermVocabulary, max_chars: int) -> str:
    """The text the NLU reads: widths folded, romaji and kana spellings of known terms in katakana.

    Reads at most ``max_chars`` characters (the rest is dropped, as the
    tokenizer would). Never raises on text; the member's own text is not changed.
    """
    text = fold_width(text[:max_chars])
    text = rewrite_romaji(vocabulary, text)
    return rewrite_kana(vocabulary, text)
