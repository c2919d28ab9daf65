"""Japanese tokenizer for Rasa, built on SudachiPy (dictionary: sudachidict-core).

Members write the same word many ways: ﾊﾟｽﾜｰﾄﾞ / パスワード, ＩＤ / ID,
読み取れない / 読みとれない, 申込 / 申し込み. Sudachi's normalised form folds
full-width/half-width, kana and okurigana variants to one spelling; we use it,
lower-cased, as each token's *lemma*, which Rasa's CountVectorsFeaturizer reads
by default (``use_lemma: true``). A token's *text* stays the member's own
spelling with its offsets.

When the message has ``normalized_text`` (``bot.nlu.text_normalizer``, which
runs first: ろぐいん → ログイン, pasuwaado → パスワード), that is what is
tokenised for the text, and token offsets point into it rather than into the
member's text. Nothing in this pipeline takes entity positions from tokens
(DIET's entity recognition is off; the ticket entity is found in the text).

Punctuation is dropped, except symbols listed in ``keep_symbols`` (by their
normalised form): here the plus sign, which carries meaning in this domain
(the Authenticator app's 「＋」 button; the 「+」 in 記号+番号+生年月日).
Dropped, 「＋ボタンが出てこない」 and 「パスワードが出てこない」 differ by one word.

Only the first ``max_chars`` characters of a text are read (default
``MAX_TEXT_CHARS``, 10,000; the rest is ignored, as if it had not been
written). The channels refuse members' messages far shorter than that
(``bot.channels.input_bounds``), so this bound is for callers that reach the NLU
directly, such as Rasa's ``/model/parse``: every later step's cost grows with
the number of tokens, and a megabyte of text must not hold the server for
seconds. Sudachi itself refuses inputs over ~49 KB (UTF-8); the text is handed
to it in chunks of ``MAX_CHARS_PER_CHUNK``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.text_normalizer import NORMALIZED_TEXT

# Sudachi refuses inputs over ~49 KB (UTF-8). Japanese characters take three
# bytes, so 12,000 characters per chunk stays well inside the limit.
MAX_CHARS_PER_CHUNK = 12_000
# the characters of a text the NLU reads at most (see the module docstring)
MAX_TEXT_CHARS = 10_000

SPLIT_MODES = ("A", "B", "C")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class JapaneseTokenizer(Tokenizer):
    """Morphological tokenizer for Japanese with normalised lemmas."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            # Intent names are not split into tokens (same as Rasa's tokenizers).
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # A: shortest units, C: longest (named entities), B: in between.
            "split_mode": "B",
            # Drop tokens that are only white space or punctuation...
            "drop_symbols": True,
            # ...except these symbols (normalised form: ＋ and + are both "+").
            "keep_symbols": ["+"],
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sudachipy", "sudachidict_core"]

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        mode = str(config.get("split_mode", "B")).upper()
        if mode not in SPLIT_MODES:
            raise ValueError(
                f"JapaneseTokenizer: split_mode must be one of {SPLIT_MODES}, got {mode!r}"
            )
        self._mode_name = mode
        self._drop_symbols = bool(config.get("drop_symbols", True))
        self._keep_symbols = frozenset(config.get("keep_symbols") or ())
        # not in get_default_config: models trained before the bound load unchanged
        max_chars = config.get("max_chars", MAX_TEXT_CHARS)
        if not isinstance(max_chars, int) or isinstance(max_chars, bool) or max_chars < 1:
            raise ValueError(f"JapaneseTokenizer: max_chars must be a positive integer, got {max_chars!r}")
        self._max_chars = max_chars
        self._tokenizer: Any = None
        self._mode: Any = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "JapaneseTokenizer":
        return cls(config)

    def _sudachi(self) -> Any:
        # Built on first use rather than at import or construction, so that
        # loading a model does not pay for it twice and tests can build many.
        if self._tokenizer is None:
            from sudachipy import Dictionary, SplitMode

            self._mode = getattr(SplitMode, self._mode_name)
            self._tokenizer = Dictionary(dict="core").tokenizer(mode=self._mode)
        return self._tokenizer

    def _is_symbol(self, morpheme: Any, surface: str) -> bool:
        if not surface.strip():
            return True
        pos = morpheme.part_of_speech()
        if pos[0] not in ("補助記号", "空白"):
            return False
        return morpheme.normalized_form() not in self._keep_symbols

    def tokenize_text(self, text: Optional[Text]) -> List[Token]:
        """Tokenise a string's first ``max_chars`` characters; offsets refer to ``text`` as given."""
        if not text:
            return []
        text = text[: self._max_chars]
        sudachi = self._sudachi()
        tokens: List[Token] = []
        for offset in range(0, len(text), MAX_CHARS_PER_CHUNK):
            chunk = text[offset : offset + MAX_CHARS_PER_CHUNK]
            for m in sudachi.tokenize(chunk, self._mode):
                surface = m.surface()
                if self._drop_symbols and self._is_symbol(m, surface):
                    continue
                start = offset + m.begin()
                lemma = (m.normalized_form() or surface).lower()
                tokens.append(Token(surface, start, end=offset + m.end(), lemma=lemma))
        return tokens

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """The tokens of ``attribute``; for the text, of its ``normalized_text`` when it has one."""
        text = message.get(attribute)
        if attribute == TEXT:
            normalized = message.get(NORMALIZED_TEXT)
            if isinstance(normalized, str):
                text = normalized
        tokens = self.tokenize_text(text)
        return self._apply_token_pattern(tokens)
