"""The widget channel's parts: session ids, metadata, transcript, configuration (no model)."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.exceptions import RasaException

from bot.channels.input_bounds import bounded_metadata as clean_metadata
from bot.channels.widget import SessionIds, WidgetInput, transcript
from bot.domain.messages import MAX_DISPLAY_TEXT


def test_session_ids_are_random_and_only_ours_are_valid():
    ids = SessionIds("a-secret-of-enough-length")
    issued = {ids.issue() for _ in range(100)}
    assert len(issued) == 100
    assert all(ids.valid(i) for i in issued)
    one = next(iter(issued))
    assert not SessionIds("another-secret-entirely").valid(one)
    for forged in [one[:32] + "0" * 32, one.upper(), one + "0", "", None, 42, "line:kose:Uabc"]:
        assert not ids.valid(forged), forged


@pytest.mark.parametrize(
    "raw, kept",
    [
        ({"tenant": "ono"}, {"tenant": "ono"}),
        (
            {"tenant": " ono ", "display_text": "ポータルのURL", "x": 1},
            {"tenant": "ono", "display_text": "ポータルのURL"},
        ),
        ({"tenant": 5, "display_text": ""}, {}),
        ("not a dict", {}),
        ({"display_text": "あ" * 500}, {"display_text": "あ" * MAX_DISPLAY_TEXT}),
    ],
)
def test_metadata_keeps_only_what_the_bot_uses(raw, kept):
    assert clean_metadata(raw) == kept


def test_transcript_shows_the_current_session_as_the_member_saw_it():
    buttons = [{"title": "はい", "payload": "/affirm"}]
    events = [
        UserUttered("昔の質問"),
        BotUttered("昔の答え"),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("society", "ono"),
        UserUttered('/greet{"society": "ono"}', metadata={"tenant": "ono"}),
        BotUttered("こんにちは。"),
        UserUttered("ポータルのURLは？", metadata={"tenant": "ono"}),
        BotUttered("こちらです。\nhttps://example.jp/", data={"buttons": buttons}),
        UserUttered("/affirm", metadata={"tenant": "ono", "display_text": "はい"}),
    ]
    assert transcript(events) == [
        {"sender": "bot", "text": "こんにちは。"},
        {"sender": "user", "text": "ポータルのURLは？"},
        {"sender": "bot", "text": "こちらです。\nhttps://example.jp/", "buttons": buttons},
        {"sender": "user", "text": "はい"},
    ]
    assert len(transcript([BotUttered(str(i)) for i in range(150)])) == 100


@pytest.mark.parametrize("secret", [None, "", "change-me", "short"])
def test_a_missing_or_placeholder_session_secret_stops_the_server(secret):
    with pytest.raises(RasaException):
        WidgetInput.from_credentials({"session_secret": secret})


def test_configuration():
    channel = WidgetInput.from_credentials({"session_secret": "x" * 32})
    assert isinstance(channel, WidgetInput)
    assert channel.name() == "socketio" and channel.socketio_path == "/socket.io"
