"""The Japanese tokenizer: variants that mean the same word tokenise alike."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.japanese_tokenizer import MAX_TEXT_CHARS, JapaneseTokenizer


@pytest.fixture(scope="module")
def tokenizer() -> JapaneseTokenizer:
    return JapaneseTokenizer({**JapaneseTokenizer.get_default_config()})


def lemmas(tok: JapaneseTokenizer, text: str) -> list[str]:
    return [t.lemma for t in tok.tokenize(Message(data={"text": text}), "text")]


@pytest.mark.parametrize(
    "a, b",
    [
        # half-width vs full-width katakana
        ("ﾊﾟｽﾜｰﾄﾞを忘れました", "パスワードを忘れました"),
        # full-width vs half-width letters and digits
        ("ＩＤが６桁です", "IDが6桁です"),
        ("ＱＲコード", "QRコード"),
        # kana vs kanji spelling
        ("パスワードをわすれた", "パスワードを忘れた"),
        ("ログインできない", "ログイン出来ない"),
        # okurigana variants
        ("読み取れない", "読みとれない"),
        ("申込み", "申し込み"),
        # upper vs lower case
        ("AUTHENTICATOR", "authenticator"),
    ],
)
def test_variants_tokenise_alike(tokenizer, a, b):
    assert lemmas(tokenizer, a) == lemmas(tokenizer, b)


def test_offsets_point_into_the_original_text(tokenizer):
    text = "ﾜﾝﾀｲﾑﾊﾟｽﾜｰﾄﾞが届かない！"
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    assert tokens, "no tokens"
    for t in tokens:
        assert text[t.start : t.end] == t.text
    assert "！" not in [t.text for t in tokens]  # punctuation dropped


def test_different_words_stay_different(tokenizer):
    assert lemmas(tokenizer, "ユーザーID") != lemmas(tokenizer, "パスワード")


def test_empty_and_blank_text(tokenizer):
    assert lemmas(tokenizer, "") == []
    assert lemmas(tokenizer, "   　 ") == []


def test_very_long_input_does_not_crash():
    # a bound above Sudachi's own input limit: the text goes to it in chunks
    tokenizer = JapaneseTokenizer({**JapaneseTokenizer.get_default_config(), "max_chars": 100_000})
    text = "パスワードを忘れました。" * 5000  # 60,000 characters, beyond Sudachi's limit
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    assert len(tokens) > 10000
    assert tokens[-1].end > 59_000
    assert all(text[t.start : t.end] == t.text for t in tokens[-5:])


def test_only_the_first_max_chars_characters_are_read(tokenizer):
    assert MAX_TEXT_CHARS == 10_000
    unit = "パスワードを忘れました。"
    text = unit * 5000  # 60,000 characters, as a direct /model/parse could send
    tokens = tokenizer.tokenize(Message(data={"text": text}), "text")
    assert tokens and max(t.end for t in tokens) <= MAX_TEXT_CHARS
    assert tokens[-1].end > MAX_TEXT_CHARS - len(unit)
    # the same tokens as for the first MAX_TEXT_CHARS characters alone
    alone = tokenizer.tokenize(Message(data={"text": text[:MAX_TEXT_CHARS]}), "text")
    assert [(t.text, t.start) for t in tokens] == [(t.text, t.start) for t in alone]


@pytest.mark.parametrize("bad", [0, -1, "10", 1.5, True])
def test_a_bad_max_chars_is_refused(bad):
    with pytest.raises(ValueError, match="max_chars"):
        JapaneseTokenizer({**JapaneseTokenizer.get_default_config(), "max_chars": bad})


def test_bad_split_mode_is_refused():
    with pytest.raises(ValueError, match="split_mode"):
        JapaneseTokenizer({**JapaneseTokenizer.get_default_config(), "split_mode": "Z"})


def test_the_plus_sign_is_kept_as_one_token_other_punctuation_is_dropped(tokenizer):
    full, half = lemmas(tokenizer, "＋ボタンが出てこない。"), lemmas(tokenizer, "+ボタンが出てこない")
    assert full == half
    assert "+" in full
    assert "。" not in full
    # without the option the plus sign is punctuation like any other
    plain = JapaneseTokenizer({**JapaneseTokenizer.get_default_config(), "keep_symbols": []})
    assert "+" not in lemmas(plain, "＋ボタンが出てこない")
