"""The handoff packet an agent reads: built from real Rasa events, with nothing sensitive in it."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.domain.masking import MASK
from bot.domain.masking_events import mask_event_dicts
from bot.domain.topics import load_topic_labels
from bot.handoff.packet import (
    FirstLoginStep,
    FirstLoginSteps,
    build_packet,
    load_first_login_steps,
    topic_of,
)
from bot.tracker_store import UrlSQLTrackerStore

LABELS = load_topic_labels()
STEPS = load_first_login_steps()
NOW = dt.datetime(2025, 4, 1, 0, 10, tzinfo=dt.timezone.utc)
T0 = NOW.timestamp() - 600  # 2025-04-01T00:00:00+00:00

BIRTH_DATE_TYPED = "昭和55年3月3日"
BIRTH_DATE_ISO = "1980-03-03"
PASSWORD = "Kose-Hanako2024"
CODE = "482913"


class Clock:
    """Timestamps one second apart, so the transcript's times are predictable."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        self.t += 1
        return self.t


def user(clock: Clock, text: str, intent: str, *, faq: str | None = None, entities=()) -> Event:
    """A user event as Rasa 3.6 logs it; a FAQ as the ResponseSelector answers it."""
    parse: dict = {}
    if faq:
        parse["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "intent_response_key": faq,
                    "utter_action": f"utter_{faq}",
                    "confidence": 0.93,
                },
                "ranking": [{"intent_response_key": faq, "confidence": 0.93}],
            },
        }
    return UserUttered(
        text,
        {"name": intent, "confidence": 0.97},
        list(entities),
        parse_data=parse,
        timestamp=clock(),
        input_channel="socketio",
    )


def bot(clock: Clock, text: str, response: str | None = None, buttons=None) -> Event:
    metadata = {"utter_action": response} if response else {}
    return BotUttered(text, {"buttons": buttons}, metadata, timestamp=clock())


def action(clock: Clock, name: str) -> Event:
    return ActionExecuted(name, timestamp=clock())


def answer(clock: Clock, text: str, faq: str, reply: str) -> list[Event]:
    return [
        user(clock, text, "faq", faq=faq),
        action(clock, "utter_faq"),
        bot(clock, reply, f"utter_{faq}"),
        action(clock, "action_listen"),
    ]


def kose_conversation() -> list[Event]:
    """An earlier session, then a kose member from the portal's address to a locked account."""
    c = Clock()
    earlier = [
        action(c, "action_session_start"),
        SessionStarted(timestamp=c()),
        user(c, "前の受付番号 UL-22ABCD です。メールが届かない", "otp_not_received"),
        bot(c, "迷惑メールフォルダをご確認ください。", "utter_otp_not_received"),
        action(c, "action_listen"),
    ]
    return earlier + [
        action(c, "action_session_start"),
        SessionStarted(timestamp=c()),
        action(c, "action_listen"),
        *answer(
            c,
            "KOSMO Webのアドレスを教えて",
            "faq/portal_url",
            "コーセー健保のKOSMO Webはこちらからアクセスできます。",
        ),
        *answer(
            c,
            "初期パスワードがわかりません",
            "faq/initial_password",
            "初回ログインのパスワードは次のとおりです。",
        ),
        user(c, "「IDまたはパスワードが正しくありません」と出ます", "login_invalid"),
        bot(c, "IDやパスワードの入力を確かめてください。", "utter_login_invalid"),
        action(c, "action_listen"),
        user(c, f"パスワードは {PASSWORD} です", "share_password"),
        bot(
            c,
            "パスワードのように見える内容でしたので、記録していません。",
            "utter_never_share_password",
        ),
        action(c, "action_listen"),
        user(c, "アカウントがロックされました", "account_locked"),
        bot(c, "このチャットでロック解除の申請ができます。申請しますか？", "utter_account_locked"),
        action(c, "action_listen"),
        user(c, "はい", "affirm"),
        action(c, "unlock_form"),
        ActiveLoop("unlock_form", timestamp=c()),
        SlotSet(REQUESTED_SLOT, "unlock_user_id", timestamp=c()),
        bot(c, "ユーザーIDを入力してください。", "utter_ask_unlock_user_id"),
        action(c, "action_listen"),
        user(c, "kose.hanako", "inform"),
        action(c, "unlock_form"),
        SlotSet("unlock_user_id", "kose.hanako", timestamp=c()),
        SlotSet(REQUESTED_SLOT, "unlock_birth_date", timestamp=c()),
        bot(c, "生年月日を入力してください。", "utter_ask_unlock_birth_date"),
        action(c, "action_listen"),
        user(c, BIRTH_DATE_TYPED, "inform"),
        action(c, "unlock_form"),
        SlotSet("unlock_birth_date", BIRTH_DATE_ISO, timestamp=c()),
        SlotSet(REQUESTED_SLOT, None, timestamp=c()),
        ActiveLoop(None, timestamp=c()),
        action(c, "action_open_unlock_ticket"),
        bot(c, "ロック解除の申請を受け付けました。受付番号は UL-7F3K9Q です。"),
        bot(c, "担当者がご本人確認のうえ、ロックを解除します。", "utter_unlock_ticket_opened"),
        action(c, "action_listen"),
        user(c, "申請の状況を知りたい", "ask_ticket_status"),
        action(c, "ticket_status_form"),
        ActiveLoop("ticket_status_form", timestamp=c()),
        SlotSet(REQUESTED_SLOT, "ticket_id", timestamp=c()),
        bot(
            c,
            "受付番号（「UL-」で始まる番号、例：UL-7F3K9Q）を入力してください。",
            "utter_ask_ticket_id",
        ),
        action(c, "action_listen"),
        user(c, "ul-9mx3pt", "inform"),
        SlotSet("ticket_id", "UL-9MX3PT", timestamp=c()),
        SlotSet(REQUESTED_SLOT, None, timestamp=c()),
        ActiveLoop(None, timestamp=c()),
        action(c, "action_ticket_status"),
        bot(c, "その受付番号は見つかりませんでした。", "utter_ticket_not_found"),
        action(c, "action_listen"),
        user(c, f"メールのコード {CODE} を入れたら無効と出ました", "inform"),
        bot(c, "どのお手続きのための情報でしょうか？", "utter_inform_without_question"),
        action(c, "action_listen"),
        user(c, "担当者と話したい", "request_human"),
        action(c, "action_offer_handoff"),
        SlotSet("handoff_reason", "member_asked", timestamp=c()),
        bot(c, "コーセー健保の担当者におつなぎできます。", "utter_handoff_offer"),
        action(c, "action_listen"),
        user(c, "はい", "affirm"),
        action(c, "action_handoff"),
    ]


def packet_of(events: list[Event], reason: str = "member_asked", **kwargs) -> dict:
    arguments = dict(
        society="kose",
        society_name="コーセー健康保険組合",
        channel="widget",
        reason=reason,
        labels=LABELS,
        steps=STEPS,
        now=NOW,
    )
    arguments.update(kwargs)
    return build_packet([e.as_dict() for e in events], **arguments)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def packet() -> dict:
    return packet_of(kose_conversation())


def test_who_where_why_and_when(packet):
    assert {k: packet[k] for k in ("society", "society_name", "channel", "reason")} == {
        "society": "kose",
        "society_name": "コーセー健康保険組合",
        "channel": "widget",
        "reason": "member_asked",
    }
    assert packet["reason_label"] == "ご本人が担当者を希望"
    assert packet["created_at"] == "2025-04-01T00:10:00+00:00"
    assert json.loads(json.dumps(packet, ensure_ascii=False)) == packet


def test_topic_is_the_latest_and_progress_the_furthest_step(packet):
    assert packet["topic"] == {"key": "account_locked", "label": "アカウントがロックされた"}
    assert [t["key"] for t in packet["topics"]] == [
        "faq/portal_url",
        "faq/initial_password",
        "login_invalid",
        "account_locked",
    ]
    assert packet["topics"][0]["label"] == "ポータルのアドレス"
    assert packet["progress"] == {"step": 2, "of": 9, "label": "初期パスワードでのログイン"}


def test_errors_the_member_quoted_or_described(packet):
    # the message with the code is masked whole: it is neither quoted nor leaked
    assert packet["errors_mentioned"] == [
        "「IDまたはパスワードが正しくありません」と出ます",
        "アカウントがロックされました",
    ]


def test_what_the_bot_already_tried(packet):
    assert packet["bot_tried"] == [
        "ポータルのアドレスの説明",
        "初期パスワードの説明",
        "IDかパスワードが違うと表示されるの説明",
        "パスワードを送らないようにとの注意",
        "アカウントがロックされたの説明",
        "ロック解除の申請のための入力（ユーザーID・生年月日）",
        "ロック解除の申請",
        "ロック解除の申請の受付（完了）",
        "受付番号の入力",
        "ロック解除の申請の状況確認",
        "申請の状況のお知らせ：受付番号が見つからない",
    ]


def test_ticket_numbers_from_bot_and_member_texts_of_this_session(packet):
    # UL-22ABCD was in the earlier session; the example in utter_ask_ticket_id is not a ticket
    assert packet["ticket_ids"] == ["UL-7F3K9Q", "UL-9MX3PT"]


def test_the_example_number_of_a_question_is_not_a_ticket():
    c = Clock()
    events = [
        bot(c, "受付番号（例：UL-7F3K9Q）を入力してください。", "utter_ask_ticket_id"),
        user(c, "ul-9mx3pt", "inform"),
    ]
    assert packet_of(events)["ticket_ids"] == ["UL-9MX3PT"]


def test_only_the_current_session(packet):
    dumped = json.dumps(packet, ensure_ascii=False)
    assert "UL-22ABCD" not in dumped and "メールが届かない" not in dumped
    assert packet["transcript"][0] == {
        "author": "member",
        "text": "KOSMO Webのアドレスを教えて",
        "at": "2025-04-01T00:00:09+00:00",
    }
    assert packet["transcript"][1]["author"] == "bot"


def test_nothing_sensitive_reaches_the_agent(packet):
    dumped = json.dumps(packet, ensure_ascii=False)
    for secret in (BIRTH_DATE_TYPED, BIRTH_DATE_ISO, "55年", PASSWORD, CODE):
        assert secret not in dumped, secret
    member_texts = [m["text"] for m in packet["transcript"] if m["author"] == "member"]
    assert member_texts.count(MASK) == 3
    assert "kose.hanako" in member_texts  # a user ID is not a secret


def test_the_builder_masks_even_events_it_gets_unmasked_and_changes_none():
    events = [e.as_dict() for e in kose_conversation()]
    before = copy.deepcopy(events)
    build_packet(
        events,
        society="kose",
        society_name="コーセー健康保険組合",
        channel="line",
        reason="portal_down",
        labels=LABELS,
        steps=STEPS,
        now=NOW,
    )
    assert events == before


async def test_dict_masking_is_the_tracker_store_masking(tmp_path):
    """What the packet masks is what the store writes, event for event."""
    events = kose_conversation()
    store = UrlSQLTrackerStore(
        domain=Domain.empty(), db_url=f"sqlite:///{tmp_path / 'tracker.db'}", cache_size=0
    )
    await store.save(DialogueStateTracker.from_events("member", events))
    with store.session_scope() as session:
        written = [json.loads(row.data) for row in store._event_query(session, "member", True)]
    assert mask_event_dicts(e.as_dict() for e in events) == written


@pytest.mark.parametrize(
    "reason, label",
    [
        ("member_asked", "ご本人が担当者を希望"),
        ("not_understood", "ボットが2回続けて理解できなかった"),
        ("portal_down", "ポータルに接続できなかった"),
        ("validation_failed", "入力の確認に2回失敗"),
        ("something_new", "something_new"),
    ],
)
def test_reason_labels(reason, label):
    assert packet_of([], reason=reason)["reason_label"] == label


def test_an_empty_conversation_gives_an_empty_packet():
    packet = packet_of([])
    assert packet["topic"] is None and packet["progress"] is None
    assert [packet[k] for k in ("topics", "errors_mentioned", "bot_tried", "ticket_ids")] == [
        [],
        [],
        [],
        [],
    ]


def _parse(intent: dict, **extra) -> dict:
    return {"event": "user", "text": "x", "parse_data": {"intent": intent, **extra}}


@pytest.mark.parametrize(
    "event, topic",
    [
        # what the Rasa server logs: the processor adds the full retrieval intent
        (_parse({"name": "faq", "full_retrieval_intent_name": "faq/qr_scan"}), "faq/qr_scan"),
        # only the ResponseSelector's answer
        (
            _parse(
                {"name": "faq"},
                response_selector={"faq": {"response": {"intent_response_key": "faq/logout"}}},
            ),
            "faq/logout",
        ),
        # a clarification button
        (
            _parse(
                {"name": "choose_topic"},
                entities=[{"entity": "topic", "value": "faq/terms_of_use"}],
            ),
            "faq/terms_of_use",
        ),
        (_parse({"name": "otp_rejected"}), "otp_rejected"),
        (_parse({"name": "greet"}), None),  # no label: not a topic
        (_parse({"name": "request_human"}), None),  # why there is a packet, not a topic
        (_parse({"name": "faq"}), None),
    ],
)
def test_topic_of(event, topic):
    assert topic_of(event, LABELS) == topic


@pytest.mark.parametrize(
    "text, mentioned",
    [
        ("『ワンタイムパスワードが一致しません』と表示されます", True),
        ('"Code expired" って出ます', True),
        ("Invalid code と出る", True),
        ("エラーになります", True),
        ("ログインに失敗しました", True),
        ("login error", True),
        ("初期パスワードがわかりません", False),
        ("ありがとう", False),
    ],
)
def test_errors_mentioned(text, mentioned):
    c = Clock()
    assert packet_of([user(c, text, "login_invalid")])["errors_mentioned"] == (
        [text] if mentioned else []
    )


def test_at_most_five_errors_most_recent_last():
    c = Clock()
    events = [user(c, f"エラー{n}が出ます", "login_invalid") for n in range(1, 8)]
    assert packet_of(events)["errors_mentioned"] == [f"エラー{n}が出ます" for n in range(3, 8)]


def test_buttons_and_server_events_in_the_transcript_and_bot_tried():
    c = Clock()
    buttons = [
        {"title": "ポータルのアドレス", "payload": '/choose_topic{"topic": "faq/portal_url"}'},
        {"title": "どれでもない", "payload": "/deny"},
    ]
    events = [
        user(c, "あれどこ", "nlu_fallback"),
        action(c, "action_clarify"),
        bot(c, "次のうち近いものはありますか？", "utter_clarify", buttons),
        user(
            c,
            '/choose_topic{"topic": "faq/portal_url"}',
            "choose_topic",
            entities=[{"entity": "topic", "value": "faq/portal_url"}],
        ),
        UserUttered.create_external("EXTERNAL_handoff_waiting"),
    ]
    packet = packet_of(events, reason="not_understood")
    assert packet["bot_tried"] == ["確認の質問（候補：ポータルのアドレス）"]
    assert [m["text"] for m in packet["transcript"]] == [
        "あれどこ",
        "次のうち近いものはありますか？",
        "（ボタン）ポータルのアドレス",
    ]
    assert packet["progress"] == {"step": 1, "of": 9, "label": "ポータルへのアクセス"}


@pytest.mark.parametrize(
    "topics, step",
    [
        (["faq/portal_url"], 1),
        (["faq/second_login", "faq/portal_url"], 9),  # the furthest, not the latest
        (["faq/password_rules", "account_locked"], 6),
        (["otp_not_received"], 8),
        (["greet"], None),
    ],
)
def test_progress_is_the_furthest_step(topics, step):
    c = Clock()
    events = [user(c, "x", t) if "/" not in t else user(c, "x", "faq", faq=t) for t in topics]
    progress = packet_of(events)["progress"]
    assert (progress and progress["step"]) == step


def test_steps_are_loaded_in_order():
    assert [s.key for s in STEPS.steps] == [
        "portal_access",
        "initial_login",
        "birth_date",
        "terms_of_use",
        "user_id_change",
        "password_change",
        "email",
        "one_time_password",
        "second_login",
    ]
    assert STEPS.number_of("faq/user_id_change") == 5
    assert STEPS.number_of("greet") is None


def test_the_steps_file_names_every_login_topic_and_only_topics():
    keys = [t for s in STEPS.steps for t in s.topics]
    assert len(keys) == len(set(keys)), "a topic in two steps"
    assert set(keys) <= set(LABELS), set(keys) - set(LABELS)
    assert set(LABELS) - set(keys) == {"request_human"}


def test_a_steps_file_can_be_handed_in(tmp_path):
    file = tmp_path / "steps.yml"
    file.write_text(
        "steps:\n  - key: a\n    label: 最初\n    topics: [faq/portal_url]\n", encoding="utf-8"
    )
    assert load_first_login_steps(file) == FirstLoginSteps(
        (FirstLoginStep("a", "最初", ("faq/portal_url",)),)
    )


def test_the_transcript_shows_what_the_member_saw_not_payloads():
    from rasa.shared.core.events import UserUttered

    events = [
        UserUttered('/greet{"society": "kose"}', intent={"name": "greet"}),
        UserUttered("担当者と話したい", intent={"name": "request_human"}),
        UserUttered(
            '/affirm{"society": "kose"}',
            intent={"name": "affirm"},
            metadata={"display_text": "はい、つないでください"},
        ),
        UserUttered("/deny", intent={"name": "deny"}),  # a LINE postback: no title
    ]
    said = [line["text"] for line in packet_of(events)["transcript"]]
    assert said == ["担当者と話したい", "はい、つないでください", "（ボタン）いいえ"]


def test_quotes_inside_quotes_and_long_messages():
    """Quotes are found without their own opening mark inside; a long message is cut for the list."""
    c = Clock()
    nested = "「「無効なユーザーIDまたはパスワード」と出た」んです"
    assert packet_of([user(c, nested, "login_invalid")])["errors_mentioned"] == [nested]
    unclosed = "「" * 5000 + "ありがとう"
    assert packet_of([user(c, unclosed, "thank")])["errors_mentioned"] == []
    long = "エラーが出ます" + "。" * 1000
    (cut,) = packet_of([user(c, long, "login_invalid")])["errors_mentioned"]
    assert cut == long[:300] + "…"


def test_what_members_type_outside_forms_reaches_the_agent_masked():
    c = Clock()
    typed = [
        "生年月日は 1978 02 14 です",
        "私のパスワード ichiro2024 が通りません",
        "記号は31、番号は11223",
        "電話は 090-1234-5678 です",
    ]
    packet = packet_of([user(c, text, "inform") for text in typed])
    assert [line["text"] for line in packet["transcript"]] == [MASK] * len(typed)
    dump = json.dumps(packet, ensure_ascii=False)
    for secret in ("1978", "ichiro2024", "11223", "5678"):
        assert secret not in dump
