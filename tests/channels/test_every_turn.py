"""A turn that said nothing gets an apology; a turn that answered is left alone."""

from __future__ import annotations

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bot.channels.every_turn import NOTHING_SAID, answer_every_turn


async def test_silent_turn_gets_an_apology_on_the_members_channel():
    async def silent(message: UserMessage) -> None:
        return None

    out = CollectingOutputChannel()
    await answer_every_turn(silent)(UserMessage("はい", out, "m-1"))
    assert [m["text"] for m in out.messages] == [NOTHING_SAID]


async def test_answered_turn_is_left_alone_and_the_channel_is_the_members_own():
    seen = []

    async def answers(message: UserMessage) -> None:
        seen.append(message.output_channel.name())  # the wrapped channel's own name
        await message.output_channel.send_response(message.sender_id, {"text": "こんにちは"})

    out = CollectingOutputChannel()
    message = UserMessage("こんにちは", out, "m-2")
    await answer_every_turn(answers)(message)
    assert [m["text"] for m in out.messages] == ["こんにちは"]
    assert seen == ["collector"] and message.output_channel is out


async def test_a_failing_turn_is_not_hidden():
    async def fails(message: UserMessage) -> None:
        raise RuntimeError("boom")

    out = CollectingOutputChannel()
    with pytest.raises(RuntimeError):
        await answer_every_turn(fails)(UserMessage("x", out, "m-3"))
