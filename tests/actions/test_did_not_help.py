"""「うまくいかない」 after an answer, and 「もう一度」: next steps of the topic just answered."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.did_not_help import ActionDidNotHelp, ActionTryAgain, form_to_repeat
from bot.domain.next_steps import load_next_steps, parse_next_steps
from bot.domain.topics import load_topic_labels


def bot(response):
    return {"event": "bot", "text": "...", "metadata": {"utter_action": response}}


def user(text):
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": "did_not_help"}}}


def tracker(events):
    return Tracker("m", {}, events[-1] if events and events[-1]["event"] == "user" else {},
                   events, False, None, {}, "action_listen")


async def run(action, events):
    dispatcher = CollectingDispatcher()
    result = await action.run(dispatcher, tracker(events), {})
    return dispatcher.messages, result


async def test_next_steps_of_the_topic_answered_last_and_a_person():
    events = [user("QRコードが読めない"), bot("utter_faq/qr_cannot_scan"), user("うまくいきません")]
    messages, result = await run(ActionDidNotHelp(), events)
    assert result == []
    [message] = messages
    assert message["response"] == "utter_did_not_help"
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads[-1] == "/request_human"
    titles = [b["title"] for b in message["buttons"]]
    assert "アプリに「＋」がない" in titles  # a next step of "the QR code cannot be scanned"


async def test_the_answer_to_the_latest_message_does_not_count():
    # the bot's reply to "it did not help" itself is not the topic (events after the latest message)
    events = [bot("utter_account_locked"), user("まだだめ"), bot("utter_faq/qr_scan")]
    steps = load_next_steps()
    assert steps.last_topic(events) == "account_locked"


async def test_results_of_procedures_count_as_their_topic():
    events = [user("再送して"), bot("utter_otp_resent"), user("まだ届きません")]
    messages, _ = await run(ActionDidNotHelp(), events)
    titles = [b["title"] for b in messages[0]["buttons"]]
    labels = load_topic_labels()
    assert titles[0] == labels["otp_rejected"]


async def test_no_topic_yet_offers_the_commonest_troubles():
    messages, _ = await run(ActionDidNotHelp(), [user("できません")])
    assert messages[0]["response"] == "utter_did_not_help_no_topic"
    assert len(messages[0]["buttons"]) == 4


async def test_once_more_repeats_the_last_procedure():
    events = [{"event": "active_loop", "name": "otp_help_form"}, {"event": "active_loop", "name": None},
              bot("utter_totp_clock_wrong"), user("時刻を直しました。もう一度調べて")]
    messages, result = await run(ActionTryAgain(), events)
    assert messages == []
    assert result == [FollowupAction("otp_help_form")]
    assert form_to_repeat(events, load_next_steps()) == "otp_help_form"


async def test_once_more_after_another_answer_is_about_that_answer():
    # an unlock request, then an FAQ answer: 「もう一度」 is not a second unlock request
    events = [{"event": "active_loop", "name": "unlock_form"}, {"event": "active_loop", "name": None},
              bot("utter_unlock_ticket_opened"), user("QRコードは？"), bot("utter_faq/qr_scan"),
              user("もう一度")]
    messages, result = await run(ActionTryAgain(), events)
    assert result == [] and messages[0]["response"] == "utter_did_not_help"


async def test_english_conversations_get_english_buttons():
    events = [user("QR code?"), bot("utter_faq/qr_cannot_scan"), user("still not working")]
    t = Tracker("m", {"language": "en"}, events[-1], events, False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    await ActionDidNotHelp().run(dispatcher, t, {})
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles and all(title.isascii() for title in titles), titles


async def test_once_more_with_nothing_to_repeat_is_did_not_help():
    messages, result = await run(ActionTryAgain(), [bot("utter_faq/portal_url"), user("もう一度")])
    assert result == [] and messages[0]["response"] == "utter_did_not_help"


def test_every_next_step_is_a_labelled_topic():
    steps = load_next_steps()
    labels = load_topic_labels()
    named = {t for ts in steps.after.values() for t in ts} | set(steps.default) | set(steps.results.values())
    assert not named - set(labels), sorted(named - set(labels))
    assert not set(steps.after) - set(labels)


def test_malformed_file_gives_empty_steps():
    assert parse_next_steps(None).keys(None, {}) == []
    assert parse_next_steps({"after": {"x": None}}).after == {"x": []}
