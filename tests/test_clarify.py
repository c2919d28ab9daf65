"""Choosing the clarification buttons from the NLU rankings."""

from __future__ import annotations

from actions.clarify import TopicChoice, load_labels, rank_topics

LABELS = {
    "account_locked": "ロック",
    "login_invalid": "ID/パスワード違い",
    "faq/portal_url": "アドレス",
    "faq/initial_password": "初期パスワード",
    "faq/qr_scan": "QR",
}


def parse(intents, faq=()):
    return {
        "intent": {"name": "nlu_fallback", "confidence": 0.5},
        "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.5}]
        + [{"name": n, "confidence": c} for n, c in intents],
        "response_selector": {
            "faq": {"ranking": [{"intent_response_key": k, "confidence": c} for k, c in faq]}
        },
    }


def test_faq_topics_are_weighted_by_the_faq_intent():
    p = parse([("faq", 0.6), ("account_locked", 0.3), ("greet", 0.1)],
              faq=[("faq/initial_password", 0.7), ("faq/portal_url", 0.2), ("faq/qr_scan", 0.1)])
    choices = rank_topics(p, LABELS)
    assert [c.key for c in choices] == ["faq/initial_password", "account_locked", "faq/portal_url"]
    assert choices[0].score == 0.6 * 0.7


def test_unlabelled_and_fallback_are_never_offered():
    p = parse([("greet", 0.9), ("login_invalid", 0.05)])
    assert [c.key for c in rank_topics(p, LABELS)] == ["login_invalid"]


def test_payloads():
    assert TopicChoice("faq/portal_url", "x", 1).payload == '/choose_topic{"topic": "faq/portal_url"}'
    assert TopicChoice("account_locked", "x", 1).payload == "/account_locked"


def test_every_label_names_a_known_topic():
    import yaml

    from tests.conftest import PROJECT_ROOT

    labels = load_labels()
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    faq = set()
    for f in (PROJECT_ROOT / "data" / "nlu").glob("*.yml"):
        for block in (yaml.safe_load(f.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if block.get("intent", "").startswith("faq/"):
                faq.add(block["intent"])
    unknown = [k for k in labels if k not in intents and k not in faq]
    assert not unknown, unknown


def clarify_tracker(language):
    from rasa_sdk import Tracker

    latest = parse([("faq", 0.5), ("account_locked", 0.3), ("login_invalid", 0.2)],
                   faq=[("faq/initial_password", 0.8), ("faq/qr_scan", 0.2)])
    return Tracker("s", {"language": language}, latest, [], False, None, {}, "")


async def run_clarify(language):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.clarify import ActionClarify

    dispatcher = CollectingDispatcher()
    await ActionClarify().run(dispatcher, clarify_tracker(language), {})
    return dispatcher.messages


async def test_english_conversation_gets_english_buttons_for_english_topics_only():
    (message,) = await run_clarify("en")
    assert message["response"] == "utter_clarify"
    # login_invalid has no English answer, so no English label: not offered
    assert [b["title"] for b in message["buttons"]] == ["Initial password", "Account locked", "None of these"]
    assert message["buttons"][-1]["payload"] == "/deny"


async def test_japanese_conversation_keeps_the_japanese_buttons():
    for language in (None, "ja"):
        (message,) = await run_clarify(language)
        assert [b["title"] for b in message["buttons"]] == [
            "初期パスワード", "アカウントがロックされた", "IDかパスワードが違うと表示される", "どれでもない"
        ]


def test_english_labels_name_known_topics():
    assert set(load_labels(language="en")) <= set(load_labels())

