"""Which language the member writes: an entity ``language`` (``en`` or ``ja``) for the slot of that name.

The bot answers in Japanese unless the member writes English (``bot.nlg``
reads the slot). A wrong switch costs more than a late one, so the slot moves
only on a message that leaves no doubt:

- any kana or kanji -> ``ja`` (mixed messages too: a member who can type
  Japanese reads Japanese); this also switches an English conversation back;
- Latin text -> ``en`` only when it is a real English sentence: at least
  :data:`MIN_WORDS` words once URLs, e-mail addresses, user IDs, codes and
  ticket numbers are taken out, a share of them common English words
  (:data:`ENGLISH_WORDS`), not mostly romaji, and lingua agrees;
- anything else (``OK``, ``yes``, ``kose.hanako``, ``123456``, ``UL-7F3K9Q``,
  a URL, romaji such as ``pasuwaado wasureta``) -> no entity, so the slot keeps
  the language the conversation already had.

lingua on its own calls every Latin-script text English (romaji included),
hence the word checks in front of it. The detector knows English and Japanese
only; it is built once per component, on first use, never at import.

Reads ``normalized_text`` when an earlier component wrote one (romaji key terms
turned into katakana), else the text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Dict, List, Optional, Text

from lingua import Language, LanguageDetector, LanguageDetectorBuilder
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.domain.language import ENGLISH, JAPANESE, LANGUAGE_ENTITY

NORMALIZED_TEXT = "normalized_text"

# Only the start of a message is read: a language shows in a few sentences,
# and the cost must not grow with a pasted 2,000-character text.
MAX_CHARS = 600
# lingua reads at most this much of the words: enough for a sentence or two,
# and its cost grows with the text (about 0.45 ms for 600 characters).
MAX_LINGUA_CHARS = 200
# Fewer words than this (after structured values are taken out) say too little.
MIN_WORDS = 3
# At least this share of the words must be common English words ...
MIN_ENGLISH_SHARE = 0.4
# ... and less than this share may be other words that read as romaji.
MAX_ROMAJI_SHARE = 0.5

# Hiragana, katakana (full and half width), CJK ideographs, 々〆ヶ.
_JAPANESE_RE = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f々〆ヶ]")
# Values that are not words of any language: URLs, e-mail addresses, and tokens
# with a digit or an inner separator (user IDs, codes, UL-7F3K9Q, dates).
# Each alternative starts only where a token starts, so a long run of letters
# costs linear time, not quadratic.
_STRUCTURED_RE = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|(?<!\S)\S+@\S+"
    r"|(?<![A-Za-z0-9._@/:-])[A-Za-z0-9]*[0-9][A-Za-z0-9._@/:-]*"
    r"|(?<![A-Za-z0-9._@/:-])[A-Za-z]+(?:[._@/:-][A-Za-z0-9]+)+"
)
_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")
# A word made only of Japanese morae (Hepburn, kunrei or keyboard spelling):
# "pasuwaado", "wasureta", "todokanai", "roguin". Few English words are. Each
# text has one reading (a syllabic n never stands before a vowel or y), so a
# failing match cannot backtrack through many readings.
_ROMAJI_RE = re.compile(
    r"(?:(?:[kgsztdnhbpmrfjvw]|sh|ch|ts|[kgsztdnhbpmr]y)?[aiueo]|y[auo]"
    r"|n'|n(?![aiueoy])|([kgsztdbpcfhjmr])(?=\1))+"
)
# longer "words" are not romaji of anything a member types
MAX_ROMAJI_WORD = 40

# Common English words, function words first: a sentence of English almost
# always has some, romaji almost never. "no" and "to" are left out because
# they are Japanese particles too (の, と).
ENGLISH_WORDS = frozenset(
    """
    i i'm i've i'd me my mine myself you you're your yours we our us it it's its they their them
    he she his her this that these those there here what what's how why where when which who
    is am are was were be been being do does did don't doesn't didn't done can can't cannot could
    couldn't would wouldn't should will won't have has had haven't hasn't not never any some all
    the a an and or but if so because than then also again still just only already yet
    of in on at for with from by about into after before up out over under off
    please hello hi hey thanks thank yes yeah okay sorry dear good morning afternoon evening bye
    get got getting log logged logging login sign signed work working works help need want know
    tell send sent receive received enter entered type typed try tried use using reset change
    forgot forget forgotten remember lost locked lock unlock blocked password passcode code codes
    account user id username email mail address app phone first time initial new wrong invalid
    error access page site website link portal person someone human agent staff speak talk connect
    """.split()
)


def has_japanese(text: str) -> bool:
    """Whether the text holds any kana or kanji."""
    return _JAPANESE_RE.search(text) is not None


def words_of(text: str) -> List[str]:
    """The plain words of a message, lower-cased, without URLs, addresses, IDs, codes or numbers."""
    return _WORD_RE.findall(_STRUCTURED_RE.sub(" ", text).lower())


def is_romaji(word: str) -> bool:
    """Whether a word can be read as Japanese morae ("wasureta" can, "forgot" cannot)."""
    return len(word) <= MAX_ROMAJI_WORD and _ROMAJI_RE.fullmatch(word) is not None


def looks_english(words: List[str]) -> bool:
    """Enough words, enough of them common English, and not mostly romaji."""
    if len(words) < MIN_WORDS:
        return False
    english = sum(w in ENGLISH_WORDS for w in words) / len(words)
    # "are", "you", "make" read as morae too: only words that are not English count
    romaji = sum(w not in ENGLISH_WORDS and is_romaji(w) for w in words) / len(words)
    return english >= MIN_ENGLISH_SHARE and romaji < MAX_ROMAJI_SHARE


def build_detector() -> LanguageDetector:
    """lingua for English and Japanese only.

    Its models load lazily, the n-grams a text needs: the first English
    message costs about 6 ms once, where preloading every model costs about
    0.5 s and more memory at start.
    """
    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.JAPANESE).build()


class LanguageJudge:
    """Decides a message's language; holds the lingua detector, built on first use."""

    def __init__(self, detector: Optional[LanguageDetector] = None) -> None:
        self._detector = detector

    @property
    def detector(self) -> LanguageDetector:
        if self._detector is None:
            self._detector = build_detector()
        return self._detector

    def decide(self, text: Any) -> Optional[str]:
        """``ja``, ``en``, or None when the message does not show its language for sure."""
        if not isinstance(text, str) or not text or text.startswith("/"):
            return None  # nothing typed, or a button payload
        head = unicodedata.normalize("NFKC", text[:MAX_CHARS])
        if has_japanese(head):
            return JAPANESE
        words = words_of(head)
        if not looks_english(words):
            return None
        found = self.detector.detect_language_of(" ".join(words)[:MAX_LINGUA_CHARS])
        return ENGLISH if found == Language.ENGLISH else None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class LanguageDetectorComponent(GraphComponent):
    """Adds the entity ``language`` when a message shows for sure which language it is in."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    def __init__(self, judge: Optional[LanguageJudge] = None) -> None:
        self.judge = judge or LanguageJudge()

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageDetectorComponent":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            language = self.judge.decide(message.get(NORMALIZED_TEXT) or message.get(TEXT))
            if language is not None:
                self._set_entity(message, language)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def _set_entity(self, message: Message, language: str) -> None:
        entities = [e for e in message.get(ENTITIES, []) if e.get("entity") != LANGUAGE_ENTITY]
        entities.append(
            {
                "entity": LANGUAGE_ENTITY,
                "value": language,
                "start": 0,
                "end": 0,
                "confidence_entity": 1.0,
                "extractor": type(self).__name__,
            }
        )
        message.set(ENTITIES, entities, add_to_output=True)
