"""Masking catches the forms members actually type (bot.domain.masking), wherever their text is kept.

Generated messages: birth dates in every format (spaces, 年月日 in any order, eras,
inside sentences), codes with separators, passwords after any password phrase,
記号・番号 pairs, phone numbers. Each must reach a real SQLite tracker store, the
handoff packet, the handoff messages and the logs without its digits or token.
Ordinary login questions must stay as typed: agents read the transcript.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import glob
import itertools
import json
import logging
import re
import sqlite3
import warnings
from pathlib import Path

import pytest
import rasa.shared.utils.io
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.masking import MASK, mask_log_text, mask_text, sensitive_text
from bot.domain.societies import PROJECT_ROOT
from bot.domain.topics import load_topic_labels
from bot.handoff.packet import build_packet, load_first_login_steps
from bot.handoff.store import HandoffStore
from bot.masking_logs import MaskingFilter, install_log_masking, uninstall_log_masking
from bot.tracker_store import UrlSQLTrackerStore

ERAS = {"明治": 1868, "大正": 1912, "昭和": 1926, "平成": 1989, "令和": 2019}
ERA_LETTERS = {"明治": "M", "大正": "T", "昭和": "S", "平成": "H", "令和": "R"}
ERA_STARTS = [
    ("明治", dt.date(1868, 1, 25)),
    ("大正", dt.date(1912, 7, 30)),
    ("昭和", dt.date(1926, 12, 25)),
    ("平成", dt.date(1989, 1, 8)),
    ("令和", dt.date(2019, 5, 1)),
]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
KANJI = "〇一二三四五六七八九"

# words around a value; none holds a digit, so any digit left after masking leaked
PREFIXES = [
    "",
    "生年月日は",
    "誕生日は",
    "えっと、",
    "私の",
    "確認ですが ",
    "コードは",
    "入力したのは「",
]
SUFFIXES = ["", "です", "。", "だと思います", " でした", "」です", "で合っていますか？"]
SPACES = st.sampled_from(["", " ", "  ", "\u3000"])
SEPARATORS = st.sampled_from([" ", "  ", "/", "-", ".", "・", "ー", "－", " - ", "\u3000"])


def kanji_number(n: int) -> str:
    """1-99 as 十-style kanji numerals (14 → 十四, 53 → 五十三)."""
    tens, ones = divmod(n, 10)
    return (
        (KANJI[tens] if tens > 1 else "") + ("十" if tens else "") + (KANJI[ones] if ones else "")
    )


@st.composite
def birth_dates(draw: st.DrawFn) -> str:
    date = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)))
    y, m, d = date.year, date.month, date.day
    pad = draw(st.booleans())
    mm, dd = (f"{m:02d}", f"{d:02d}") if pad else (str(m), str(d))
    s1, s2 = draw(SEPARATORS), draw(SEPARATORS)
    sp = [draw(SPACES) for _ in range(6)]
    era, start = max(((n, s) for n, s in ERA_STARTS if s <= date), key=lambda p: p[1])
    era_year = y - start.year + 1
    era_year_text = "元" if era_year == 1 and draw(st.booleans()) else str(era_year)
    parts = [f"{y}{sp[0]}年", f"{m}{sp[1]}月", f"{d}{sp[2]}日"]
    forms = [
        f"{y}{s1}{mm}{s2}{dd}",  # 1978 02 14, 1978/2/14, 1978-02-14
        f"{dd}{s1}{mm}{s2}{y}",  # 14/02/1978
        f"{y}{mm:0>2}{dd:0>2}",  # 19780214
        "".join(draw(st.permutations(parts))),  # 年月日 in any order
        f"{m}月{d}日、{y}年生まれ",
        f"{era}{sp[3]}{era_year_text}{sp[4]}年{sp[5]}{m}月{d}日",
        f"{ERA_LETTERS[era]}{draw(st.sampled_from(['', '.']))}{era_year}{s1}{m}{s2}{d}",
        f"{era}{kanji_number(era_year) or '元'}年{kanji_number(m)}月{kanji_number(d)}日",
    ]
    value = draw(st.sampled_from(forms))
    if draw(st.booleans()):
        value = value.translate(FULL_WIDTH)
    return value


@st.composite
def codes(draw: st.DrawFn) -> str:
    digits = draw(st.text("0123456789", min_size=6, max_size=6))
    sep = draw(st.sampled_from([" ", "-", "  ", "ー", "－", " - ", ".", "\u3000"]))
    value = draw(
        st.sampled_from(
            [
                digits,
                f"{digits[:3]}{sep}{digits[3:]}",
                sep.join([digits[:2], digits[2:4], digits[4:]]),
            ]
        )
    )
    return value.translate(FULL_WIDTH) if draw(st.booleans()) else value


PASSWORD_PHRASES = [
    "パスワード {}",
    "私のパスワード {} が通りません",
    "私のパスワードは{}です",
    "パスワードは「{}」なのに入れません",
    "パスワードを {} にしたはずです",
    "PW：{}",
    "pw: {}",
    "Password is {}",
    "my password is {} but it fails",
    "ぱすわーど {}",
    "パスワード→{}",
]


@st.composite
def passwords(draw: st.DrawFn) -> tuple[str, str]:
    """(message, the password in it): two character classes only; the phrase tells."""
    letters = draw(st.text("abcdefghijkmnpqrstuvwxyz", min_size=3, max_size=12))
    digits = draw(st.text("0123456789", min_size=2, max_size=6))
    token = letters + digits if draw(st.booleans()) else digits + letters
    if draw(st.booleans()):
        pin = draw(st.text("0123456789", min_size=4, max_size=8))
        return draw(st.sampled_from(["暗証番号 {}", "暗証番号は{}です", "PIN {}"])).format(pin), pin
    return draw(st.sampled_from(PASSWORD_PHRASES)).format(token), token


@st.composite
def symbol_numbers(draw: st.DrawFn) -> str:
    symbol = draw(st.text("0123456789", min_size=1, max_size=3))
    number = draw(st.text("0123456789", min_size=4, max_size=7))
    form = draw(
        st.sampled_from(
            [
                "記号は{s}、番号は{n}",
                "記号{s} 番号{n}",
                "記号：{s} 番号：{n}",
                "記号番号は {s}-{n} です",
                "保険証の記号は{s}で番号は{n}です",
                "番号は{n}、記号は{s}",
            ]
        )
    )
    value = form.format(s=symbol, n=number)
    return value.translate(FULL_WIDTH) if draw(st.booleans()) else value


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    def digits(n: int) -> str:
        return draw(st.text("0123456789", min_size=n, max_size=n))

    sep = draw(st.sampled_from(["-", " ", "", "ー", "－"]))
    value = draw(
        st.sampled_from(
            [
                f"0{draw(st.sampled_from('789'))}0{sep}{digits(4)}{sep}{digits(4)}",
                f"0{digits(1)}{sep}{digits(4)}{sep}{digits(4)}",
                f"0120{sep}{digits(3)}{sep}{digits(3)}",
                f"+81{draw(st.sampled_from([' ', '-', '']))}90{sep}{digits(4)}{sep}{digits(4)}",
                f"({digits(2)}){digits(4)}{sep or '-'}{digits(4)}",
            ]
        )
    )
    return value.translate(FULL_WIDTH) if draw(st.booleans()) else value


@st.composite
def in_a_sentence(draw: st.DrawFn, values: st.SearchStrategy[str]) -> str:
    return draw(st.sampled_from(PREFIXES)) + draw(values) + draw(st.sampled_from(SUFFIXES))


SENSITIVE_MESSAGES = st.one_of(
    in_a_sentence(birth_dates()),
    in_a_sentence(codes()),
    symbol_numbers(),
    in_a_sentence(phone_numbers()),
)

DIGITS_RE = re.compile(r"[0-9０-９〇一二三四五六七八九十]")

# What members ask; the bot must understand it and the agent read it as typed.
ORDINARY = [
    "初期パスワードを教えて",
    "ワンタイムパスワードが届きません",
    "2回目のログインです",
    "6桁のコードはどこに出ますか",
    "ユーザーIDは15桁ですか",
    "2024年から使えなくなりました",
    "2024年4月から使えなくなりました",
    "パスワードは8文字以上ですか",
    "パスワードを忘れました",
    "パスワードに記号は使えますか",
    "パスワードをiPhoneに保存しています",
    "任意継続だと記号が3桁なの？",
    "番号は6桁ですか",
    "記号と番号はどこで確認できますか",
    "生年月日は何桁で入れますか",
    "生年月日を3回間違えました",
    "UL-7F3K9Q の状況は？",
    "hanako.kose@example.com に届きません",
    "3回失敗してロックされました",
    "「ワンタイムパスワードが正しくありません」と表示されます",
    "1日に何回までですか",
    "電話番号を教えてください",
    "KOSMO Webのパスワードを変更したい",
    "Microsoft Authenticatorを使っています",
    "iOS 17にしてから動きません",
    "1,000円かかりますか",
]


def _session_events(text: str) -> list:
    return [UserUttered(text, {"name": "inform", "confidence": 1.0})]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[UrlSQLTrackerStore, Path]:
    db = tmp_path_factory.mktemp("masking") / "tracker.db"
    return UrlSQLTrackerStore(domain=Domain.empty(), db_url=f"sqlite:///{db}"), db


_senders = itertools.count()


def stored_user_text(store: UrlSQLTrackerStore, db: Path, text: str) -> str:
    """What a real SQLite tracker store writes for a member's message (a fresh conversation)."""
    sender = f"prop-{next(_senders)}"
    tracker = DialogueStateTracker.from_events(sender, _session_events(text))
    asyncio.run(store.save(tracker))
    with sqlite3.connect(db) as conn:
        rows = [
            json.loads(r[0])
            for r in conn.execute("SELECT data FROM events WHERE sender_id = ?", (sender,))
        ]
    (row,) = [r for r in rows if r["event"] == "user"]
    assert row["parse_data"]["text"] == row["text"]
    return row["text"]


LABELS = load_topic_labels()
STEPS = load_first_login_steps()


def packet_texts(text: str) -> list[str]:
    """Every text the handoff packet holds for a conversation of this one message."""
    packet = build_packet(
        [e.as_dict() for e in _session_events(text)],
        society="kose",
        society_name="コーセー健康保険組合",
        channel="widget",
        reason="member_asked",
        labels=LABELS,
        steps=STEPS,
        now=dt.datetime(2025, 4, 1, tzinfo=dt.timezone.utc),
    )
    return [line["text"] for line in packet["transcript"]] + packet["errors_mentioned"]


SLOW = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SLOW
@given(SENSITIVE_MESSAGES)
def test_dates_codes_symbol_numbers_and_phones_never_reach_storage(store, text):
    tracker_store, db = store
    assert sensitive_text(text), text
    assert stored_user_text(tracker_store, db, text) == MASK
    assert packet_texts(text) == [MASK]
    masked = mask_text(text)  # handoff messages and logs keep the words, not the value
    assert MASK in masked and not DIGITS_RE.search(masked.replace("+", "")), (text, masked)


@SLOW
@given(passwords())
def test_a_password_after_any_phrase_never_reaches_storage(store, typed):
    text, password = typed
    tracker_store, db = store
    assert stored_user_text(tracker_store, db, text) == MASK
    assert packet_texts(text) == [MASK]
    masked = mask_text(text)
    assert password not in masked and MASK in masked, (text, masked)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_are_kept_as_typed(store, text):
    tracker_store, db = store
    assert not sensitive_text(text)
    assert mask_text(text) == text
    assert stored_user_text(tracker_store, db, text) == text
    assert packet_texts(text) == [text] or text in packet_texts(text)


def nlu_examples(pattern: str) -> list[tuple[str, str]]:
    """(intent, text) of every training example matching ``pattern``, entity markup removed."""
    found = []
    for file in sorted(glob.glob(str(PROJECT_ROOT / pattern))):
        for item in (yaml.safe_load(Path(file).read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in str(item.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = re.sub(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})", r"\1", line[2:])
                    found.append((str(item.get("intent")), text))
    return found


@pytest.mark.parametrize("pattern", ["data/nlu/*.yml", "tests/nlu/*.yml"])
def test_no_question_of_the_nlu_data_is_masked(pattern):
    """Only the values of ``inform`` (dates, codes, IDs) may be masked; no question is."""
    examples = nlu_examples(pattern)
    assert len(examples) > 100
    masked = [(i, t) for i, t in examples if i != "inform" and sensitive_text(t)]
    assert masked == []


async def test_member_lines_of_a_handoff_are_kept_masked(tmp_path):
    store = HandoffStore(f"sqlite:///{tmp_path / 'handoff.db'}")
    store.create_schema()
    try:
        h = store.open("conv-1", "kose", "widget", "member_asked", {})
        typed = "生年月日は 1978 02 14、記号は31、番号は11223、電話は090-1234-5678です"
        kept = store.add_message(h.id, "member", typed)
        assert kept.text == f"生年月日は {MASK}、記号は{MASK}、番号は{MASK}、電話は{MASK}です"
        assert store.add_message(h.id, "member", "まだ届きません").text == "まだ届きません"
        raw = (tmp_path / "handoff.db").read_bytes()
        for secret in ("1978", "11223", "5678"):
            assert secret.encode() not in raw
    finally:
        store.dispose()


@pytest.fixture
def masked_logs():
    """(log records, shown warnings) of this process while the masking is installed."""
    records: list[logging.LogRecord] = []
    shown: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    root = logging.getLogger()
    root.addHandler(handler)
    old_level, old_show = root.level, warnings.showwarning
    root.setLevel(logging.INFO)
    # where the server's warnings go (stderr, the log file): a list here
    warnings.showwarning = lambda message, *args, **kwargs: shown.append(str(message))
    install_log_masking()
    try:
        yield records, shown
    finally:
        uninstall_log_masking()
        warnings.showwarning = old_show
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_log_records_and_warnings_are_masked(masked_logs):
    records, shown = masked_logs
    logging.getLogger("rasa.core.processor").info(
        "Received user message '%s' from %s", "私のパスワード ichiro2024 が通りません", "kose"
    )
    try:
        raise ValueError("bad value 生年月日は 1978 02 14")
    except ValueError:
        logging.getLogger("rasa_sdk.executor").exception("failed for 090-1234-5678")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # Rasa's warning for a malformed payload quotes the member's text
        rasa.shared.utils.io.raise_warning(
            "Failed to parse arguments in line '/inform{\"x\": Hanako-Kose2024'"
        )
    text = "\n".join(logging.Formatter().format(r) for r in records) + "\n".join(shown)
    for secret in ("ichiro2024", "1978", "090-1234", "Hanako-Kose2024"):
        assert secret not in text, text
    assert "Received user message '私のパスワード **** が通りません' from kose" in text
    assert shown == ["Failed to parse arguments in line '/inform{\"x\": ****'"]
    assert install_log_masking() is False  # once per process


@pytest.mark.parametrize(
    "line",
    [
        "/work/main/.venv/lib/python3.10/site-packages/pkg_resources/__init__.py:121: "
        "DeprecationWarning: pkg_resources is deprecated",
        "Deleted lock for conversation rest:e2e-3f0a12345678",
        "Deleted lock for conversation line:kose:U4af4980629abcdef0123456789abcdef",
        "Starting Rasa server on http://127.0.0.1:36519",
        "  SANIC_VERSION = LooseVersion(sanic_version)",
        "Attempting to connect to database via 'sqlite:////tmp/pytest-114/stack0/tracker.db'.",
        "Node 'run_JapaneseTokenizer0' loading 'JapaneseTokenizer.load' and kwargs: '{}'.",
        '{"parse_data_intent": {"name": "share_password", "confidence": 0.9973804354667664}}',
        '{"rasa_events": ["<rasa.shared.core.events.SessionStarted object at 0x7fe4caba0760>"]}',
    ],
)
def test_the_servers_own_log_lines_stay_readable(line):
    assert mask_log_text(line) == line


def test_escaped_member_text_in_structured_logs_is_masked():
    """structlog writes JSON with escaped characters: 記号は31 is \\u8a18\\u53f7\\u306f31."""
    line = json.dumps({"parse_data_text": "記号は31、番号は11223", "user": "生年月日は 1978 02 14"})
    assert "\\u8a18" in line
    assert mask_log_text(line) == (
        '{"parse_data_text": "記号は****、番号は****", "user": "生年月日は ****"}'
    )


def test_the_filter_masks_records_on_a_handler():
    record = logging.LogRecord("rasa", logging.WARNING, __file__, 1, "code %s", ("123 456",), None)
    assert MaskingFilter().filter(record) is True
    assert record.getMessage() == f"code {MASK}"


def test_the_masking_and_the_packet_need_no_rasa():
    """The action server and the console mask without loading Rasa or the tracker store."""
    import subprocess
    import sys

    code = (
        "import sys, bot.domain.masking, bot.domain.masking_events, bot.masking_logs, bot.handoff.packet;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rasa' or m == 'bot.tracker_store'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT
    )
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ the log pre-check

# pieces of log lines and of what members type, so that generated lines hold dates,
# codes, password phrases, mixed words and 記号・番号 as often as plain words
LOG_PIECES = [
    " ", "  ", "\u3000", "-", "/", ".", ":", "'", '"', "=", "(", ")", "_", "!", "@",
    "Received", "user", "message", "Rasa", "Hanako", "Kose", "rasa.core", "http://h/x",
    "年", "月", "日", "元", "二", "十", "〇", "昭和", "平成", "令和", "S", "H", "生年月日", "生まれ",
    "記号", "番号", "は", "パスワード", "暗証番号", "pw", "PIN", "password is", "Pass", "spin",
    "1", "12", "123456", "１２", "①", "㍻", "㋀", "㏠", "\\u5e74", "\\u0031", "abcd", "ABCD",
]
LOG_LINES = st.lists(
    st.one_of(st.sampled_from(LOG_PIECES), st.text(max_size=3)), max_size=14
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(LOG_LINES)
def test_a_log_line_let_through_by_the_pre_check_has_nothing_to_mask(line):
    """The pre-check never lets through what the masking would have changed."""
    from bot.domain.masking import _prepared, log_text_may_be_sensitive, sensitive_spans

    shown, folded = _prepared(line, log=True)
    if not log_text_may_be_sensitive(folded):
        assert sensitive_spans(folded, log=True) == [], line
        assert mask_log_text(line) == shown


@SLOW
@given(st.one_of(SENSITIVE_MESSAGES, passwords().map(lambda typed: typed[0])))
def test_every_sensitive_message_passes_the_pre_check(text):
    from bot.domain.masking import _prepared, log_text_may_be_sensitive

    assert log_text_may_be_sensitive(_prepared(text, log=True)[1]), text


@pytest.mark.parametrize(
    "line",
    [
        "Loaded model and tracker store for the server",
        "Received user message with intent greet from rest",
        "Starting Rasa server",
    ],
)
def test_a_log_record_that_cannot_hold_member_values_is_left_as_it_is(
    masked_logs, monkeypatch, line
):
    """No digit, no password word, no word mixing cases and symbols: the record is not
    searched by the masking patterns, and keeps its message and arguments."""
    import bot.domain.masking

    searched: list[str] = []
    spans = bot.domain.masking.sensitive_spans
    monkeypatch.setattr(
        bot.domain.masking, "sensitive_spans", lambda text, **kw: searched.append(text) or spans(text, **kw)
    )
    records, _ = masked_logs
    head, tail = line.rsplit(" ", 1)
    logging.getLogger("rasa.core.processor").info("%s %s", head, tail)
    [record] = records
    assert (record.msg, record.args) == ("%s %s", (head, tail))
    assert record.getMessage() == line and searched == []
    # a sensitive one still is searched and masked
    logging.getLogger("rasa.core.processor").info("%s: %s", head, "生年月日は 1978 02 14")
    assert searched and records[1].getMessage() == f"{head}: 生年月日は {MASK}"
    assert records[1].args is None
    # and a clean message with an exception is masked as before (the traceback may hold values)
    try:
        raise ValueError("code 123 456")
    except ValueError:
        logging.getLogger("rasa.core.processor").exception(line)
    assert "123 456" not in logging.Formatter().format(records[2])
