"""Two questions in one message: cutting it into parts and handing each question to the bot."""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.questions import (
    MAX_CHARS,
    Question,
    answer_each_question,
    group_questions,
    questions_in,
    split_parts,
    topic_of,
)


def parse_of(table):
    """A stand-in NLU: the intent (and FAQ answer) each part maps to, with full confidence."""

    async def parse(text):
        for needle, topic in table.items():
            if needle in text:
                if topic.startswith("faq/"):
                    return {
                        "intent": {"name": "faq", "confidence": 0.95},
                        "response_selector": {
                            "faq": {"response": {"intent_response_key": topic, "confidence": 0.9}}
                        },
                    }
                return {"intent": {"name": topic, "confidence": 0.9}}
        return {"intent": {"name": "greet", "confidence": 0.9}}

    return parse


TOPICS = {"パスワード": "faq/initial_password", "URL": "faq/portal_url", "ロック": "account_locked"}


def test_parts_at_sentence_ends_and_connectives():
    assert split_parts("初期パスワードと、ログインするURLを教えてください") == [
        "初期パスワード", "ログインするURLを教えてください"]
    assert split_parts("IDを忘れました。あと、パスワードの条件も教えて") == [
        "IDを忘れました。", "パスワードの条件も教えて"]


def test_a_later_sentence_loses_its_opening_connective():
    assert split_parts("パスワードを忘れました。それとユーザーIDもあやしいです") == [
        "パスワードを忘れました。", "ユーザーIDもあやしいです"]
    assert split_parts("QRコードが読めません。あとURLも知りたい") == ["QRコードが読めません。", "URLも知りたい"]
    # 「あと3回」 is "three more times", not "and also"
    assert split_parts("ロックされました。あと3回で何かありますか") == ["ロックされました。", "あと3回で何かありますか"]
    # words that only start like a connective are left whole
    for later in ("あとで自分でやってみます", "それについて教えてください", "あとどれくらいで解除されますか",
                  "あと五回で何かありますか", "あとは3回で止まりますか", "またエラーが出ます"):
        assert split_parts("ロックされました。" + later) == ["ロックされました。", later], later
    # the first sentence keeps it: there is no question before it
    assert split_parts("それからエラーが出ます") == ["それからエラーが出ます"]


def test_a_condition_is_not_a_second_question():
    # 「と、」 after a verb is "when ...": one question
    assert split_parts("ログインしようとすると、エラーが出ます") == ["ログインしようとすると、エラーが出ます"]


def test_parts_without_a_topic_stay_with_a_question():
    parts = [("お世話になっております。", None), ("パスワードを教えて。", "faq/initial_password"),
             ("あとURLも。", "faq/portal_url"), ("よろしくお願いします。", None)]
    assert group_questions(parts) == [
        Question("お世話になっております。パスワードを教えて。", "faq/initial_password"),
        Question("あとURLも。よろしくお願いします。", "faq/portal_url"),
    ]


def test_two_parts_of_one_topic_are_one_question():
    parts = [("ロックされた。", "account_locked"), ("ロック解除したい。", "account_locked")]
    assert group_questions(parts) == [Question("ロックされた。ロック解除したい。", "account_locked")]


def test_topic_needs_confidence():
    assert topic_of({"intent": {"name": "account_locked", "confidence": 0.4}}) is None
    assert topic_of({"intent": {"name": "thank", "confidence": 0.99}}) is None
    assert topic_of(None) is None
    low_faq = {"intent": {"name": "faq", "confidence": 0.9},
               "response_selector": {"faq": {"response": {"intent_response_key": "faq/x", "confidence": 0.3}}}}
    assert topic_of(low_faq) is None


async def test_only_messages_with_two_topics_are_split():
    parse = parse_of(TOPICS)
    assert [q.topic for q in await questions_in("パスワードと、URLを教えて", parse)] == [
        "faq/initial_password", "faq/portal_url"]
    assert await questions_in("ありがとう。でもパスワードが違うと出る", parse) == []
    assert await questions_in("パスワードを教えて", parse) == []
    assert await questions_in("/affirm", parse) == []
    assert await questions_in("パスワード。URL。" * (MAX_CHARS // 8), parse) == []


async def test_each_question_reaches_the_bot_in_order_with_one_output_channel():
    seen = []

    async def bot(message: UserMessage):
        seen.append((message.text, message.sender_id, message.output_channel, message.metadata))

    class Holder:
        class app:  # noqa: N801 - the shape of a Sanic app's ctx
            class ctx:  # noqa: N801
                class agent:  # noqa: N801
                    @staticmethod
                    def is_ready():
                        return True

                    parse_message = staticmethod(parse_of(TOPICS))

    out = CollectingOutputChannel()
    handle = answer_each_question(bot, Holder())
    await handle(UserMessage("ロックされました。あと、URLも教えて", out, "m1", metadata={"tenant": "kose"}))
    assert [s[0] for s in seen] == ["ロックされました。", "URLも教えて"]
    assert all(s[1] == "m1" and s[2] is out and s[3] == {"tenant": "kose"} for s in seen)


async def test_a_failing_split_passes_the_message_whole():
    seen = []

    async def bot(message):
        seen.append(message.text)

    class Broken:
        @property
        def app(self):
            raise RuntimeError("boom")

    await answer_each_question(bot, Broken())(UserMessage("パスワードと、URLを教えて", None, "m2"))
    assert seen == ["パスワードと、URLを教えて"]


def test_no_server_yet_passes_whole():
    seen = []

    async def bot(message):
        seen.append(message.text)

    asyncio.run(answer_each_question(bot, object())(UserMessage("パスワードと、URLを教えて", None, "m3")))
    assert seen == ["パスワードと、URLを教えて"]
