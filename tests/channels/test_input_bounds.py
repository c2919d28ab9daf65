"""The one wrapper every channel puts in front of Rasa: length, metadata, payloads, display_text."""

from __future__ import annotations

from typing import Any, List

import pytest
import yaml
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from actions.clarify import TopicChoice
from bot.channels import with_society_entity
from bot.channels.input_bounds import (
    DEFAULT_MAX_MESSAGE_CHARS,
    MAX_DISPLAY_TEXT,
    MEMBER_PAYLOADS,
    InputBounds,
    as_plain_text,
    bound_inputs,
    bounded_metadata,
    member_payload,
    member_payloads,
)
from bot.domain.messages import shown_text
from bot.domain.societies import PROJECT_ROOT
from bot.domain.topics import load_topic_labels


class Recorder:
    """A stand-in for the rest of the chain (gate, bot): notes what reached it."""

    def __init__(self) -> None:
        self.seen: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message)
        await message.output_channel.send_response(message.sender_id, {"text": "答え"})


async def turn(text: str, metadata: Any = None, bounds: InputBounds | None = None, society: str | None = None):
    recorder, out = Recorder(), CollectingOutputChannel()
    await bound_inputs(recorder, bounds)(UserMessage(text, out, "m-1", metadata=metadata), None, society)
    return recorder.seen, [m.get("text") for m in out.messages]


# --- length -----------------------------------------------------------------------


async def test_a_too_long_message_is_answered_directly_and_never_reaches_the_bot():
    seen, answers = await turn("あ" * (DEFAULT_MAX_MESSAGE_CHARS + 1))
    assert seen == []
    assert answers == [
        "メッセージが長すぎます（2,000文字まで）。\nお手数ですが、短く分けてお送りください。"
    ]


async def test_a_message_at_the_limit_goes_through_unchanged():
    text = "い" * DEFAULT_MAX_MESSAGE_CHARS
    seen, answers = await turn(text)
    assert [m.text for m in seen] == [text] and answers == ["答え"]


async def test_the_limit_is_a_setting():
    bounds = InputBounds.from_env({"KOSMO_MAX_MESSAGE_CHARS": "10"}, topic_labels={})
    assert bounds.max_message_chars == 10
    seen, answers = await turn("パスワードを忘れました", bounds=bounds)
    assert seen == [] and answers == [
        "メッセージが長すぎます（10文字まで）。\nお手数ですが、短く分けてお送りください。"
    ]
    assert InputBounds.from_env({}, topic_labels={}).max_message_chars == DEFAULT_MAX_MESSAGE_CHARS
    for bad in ("0", "-5", "lots", "1e3"):
        with pytest.raises(ValueError, match="KOSMO_MAX_MESSAGE_CHARS"):
            InputBounds.from_env({"KOSMO_MAX_MESSAGE_CHARS": bad}, topic_labels={})


# --- metadata ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, kept",
    [
        ({"tenant": "ono"}, {"tenant": "ono"}),
        ({"tenant": " ono ", "display_text": "ポータルのURL", "x": 1}, {"tenant": "ono", "display_text": "ポータルのURL"}),
        ({"tenant": 5, "display_text": ""}, {}),
        ({"tenant": "ono; drop table", "display_text": ["list"]}, {}),
        ({"tenant": "k" * 65}, {}),
        ("not a dict", {}),
        (None, {}),
        ({"display_text": "あ" * 500}, {"display_text": "あ" * MAX_DISPLAY_TEXT}),
        ({"tenant": "kose", "blob": "x" * 1_000_000, "nested": {"a": [1] * 1000}}, {"tenant": "kose"}),
    ],
)
def test_metadata_keeps_only_the_keys_the_bot_uses_as_short_strings(raw, kept):
    assert bounded_metadata(raw) == kept


async def test_the_bot_gets_bounded_metadata():
    seen, _ = await turn("こんにちは", {"tenant": "kose", "blob": "x" * 100_000, "session_id": "line:kose:U1"})
    assert seen[0].metadata == {"tenant": "kose"}


@pytest.mark.parametrize("channels", [None, "widget:" + "1" * 32])
async def test_only_the_channels_own_origin_is_kept(channels):
    """An ``origin`` in the client's metadata is dropped; the one the channel hands in is added
    after the filter (and a malformed one from a channel is not kept either)."""
    recorder, out = Recorder(), CollectingOutputChannel()
    client_sent = {"tenant": "kose", "origin": "widget:" + "0" * 32}
    for origin in (channels, "192.0.2.7"):
        await bound_inputs(recorder, InputBounds())(
            UserMessage("こんにちは", out, "m-1", metadata=dict(client_sent)), origin
        )
    kept = [m.metadata for m in recorder.seen]
    assert kept[0] == ({"tenant": "kose", "origin": channels} if channels else {"tenant": "kose"})
    assert kept[1] == {"tenant": "kose"}


# --- display_text -----------------------------------------------------------------


async def test_display_text_is_dropped_on_free_text():
    seen, _ = await turn("こんにちは", {"tenant": "kose", "display_text": "パスワードを教えて"})
    assert seen[0].metadata == {"tenant": "kose"}
    assert shown_text(seen[0].text, seen[0].metadata) == "こんにちは"


async def test_display_text_is_kept_bounded_on_our_payloads():
    seen, _ = await turn('/affirm{"society": "kose"}', {"tenant": "kose", "display_text": "は" * 300})
    assert seen[0].metadata == {"tenant": "kose", "display_text": "は" * MAX_DISPLAY_TEXT}


def test_shown_text_ignores_display_text_on_free_text_even_in_stored_events():
    assert shown_text("本当の言葉", {"display_text": "偽の言葉"}) == "本当の言葉"
    assert shown_text("/affirm", {"display_text": "はい"}) == "はい"
    assert shown_text("/affirm", {"display_text": "x" * 500}) == "x" * MAX_DISPLAY_TEXT
    assert shown_text("/greet", {}) is None


# --- payloads ---------------------------------------------------------------------


def domain_button_payloads() -> set[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    payloads = set()
    for variants in (domain.get("responses") or {}).values():
        for variant in variants:
            for button in variant.get("buttons") or []:
                payloads.add(button["payload"])
    assert payloads, "domain.yml has buttons"
    return payloads


def test_every_payload_our_buttons_and_channels_send_is_accepted():
    payloads = member_payloads(load_topic_labels())
    sent = domain_button_payloads() | {"/greet"}  # the widget's and LINE's opening greeting
    sent |= {TopicChoice(key, label, 1.0).payload for key, label in load_topic_labels().items()}
    sent.add("/deny")  # the clarification's "none of these"
    assert any(p.startswith("/choose_topic{") for p in sent) and "/account_locked" in sent
    for payload in sent:
        for society in ("kose", "ono"):
            # as the channels pass them on: with the society written in
            assert member_payload(with_society_entity(payload, society), payloads), payload
        assert member_payload(payload, payloads), payload


@pytest.mark.parametrize(
    "typed",
    [
        "/EXTERNAL_handoff_taken",
        "/EXTERNAL_handoff_closed",
        "/handoff_message",
        "/share_password",
        "/nlu_fallback",
        "/inform{\"ticket_id\": \"UL-1\"}",
        "/affirm@1.0",
        "/affirm{\"society\": \"ono\"} and more",
        "/choose_topic{\"topic\": \"faq/x\", \"user_id\": \"kose.hanako\"}",
        "/choose_topic{\"topic\": 5}",
        "/choose_topic{\"topic\": \"" + "x" * 200 + "\"}",
        "/choose_topic{not json}",
        "/greet{\"x\": 1}",
        "/",
        "//affirm",
        "  /EXTERNAL_handoff_taken  ",
    ],
)
def test_other_payloads_are_not_ours(typed):
    payloads = member_payloads(load_topic_labels())
    assert member_payload(typed, payloads) is None
    assert member_payload(with_society_entity(typed.strip(), "kose"), payloads) is None


async def test_a_typed_internal_intent_reaches_the_bot_as_plain_text():
    # the channel has written the society into it, as with_society_entity does
    seen, _ = await turn(with_society_entity("/EXTERNAL_handoff_taken", "kose"), {"tenant": "kose", "display_text": "はい"})
    assert seen[0].text == "／EXTERNAL_handoff_taken"
    assert seen[0].metadata == {"tenant": "kose"}  # no title for what is now free text
    seen, _ = await turn(with_society_entity('/inform{"ticket_id": "UL-1"}', "kose"), {"tenant": "kose"})
    assert seen[0].text == '／inform{"ticket_id": "UL-1"}'


@pytest.mark.parametrize(
    "text, plain",
    [
        ("/EXTERNAL_handoff_taken", "／EXTERNAL_handoff_taken"),
        ('/EXTERNAL_handoff_taken{"society": "kose"}', "／EXTERNAL_handoff_taken"),
        ('/x{"a": "b", "society": "kose"}', '／x{"a": "b"}'),
        ("/x{broken", "／x{broken"),
        ("  /x  ", "／x"),
    ],
)
def test_plain_text_of_a_payload(text, plain):
    assert as_plain_text(text) == plain
    assert not plain.startswith("/")


@pytest.mark.parametrize(
    "text, society, passed",
    [
        ('/greet{"society": "kose"}', "kose", '/greet{"society": "kose"}'),
        ("/deny", "kose", '/deny{"society": "kose"}'),
        # a society the member wrote is never kept: the channel's replaces it
        ('/greet{"society": "ono"}', "kose", '/greet{"society": "kose"}'),
        ('/choose_topic{"society": "ono", "topic": "faq/portal_url"}', "kose",
         '/choose_topic{"topic": "faq/portal_url", "society": "kose"}'),
        # a channel that knows no society: none in the payload at all
        ('/greet{"society": "ono"}', None, "/greet"),
        ('/choose_topic{"topic": "faq/portal_url", "society": "' + "x" * 100 + '"}', None,
         '/choose_topic{"topic": "faq/portal_url"}'),
        ("/deny", None, "/deny"),
    ],
)
async def test_our_payloads_carry_the_channels_society_only(text, society, passed):
    seen, _ = await turn(text, {"tenant": society or "ono"}, society=society)
    assert seen[0].text == passed


def test_member_payloads_adds_the_clarifications_intents_only():
    payloads = member_payloads({"account_locked": "ロック", "faq/portal_url": "URL", "bad key!": "x"})
    assert set(payloads) == set(MEMBER_PAYLOADS) | {"account_locked"}
    assert payloads["choose_topic"] == frozenset({"topic"})
