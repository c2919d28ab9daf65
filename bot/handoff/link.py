"""How the console reaches a member: through the Rasa server it is mounted in.

:class:`RasaMemberLink` is the console's ``MemberLink``. It runs in the Rasa
server, so it uses the server's own parts (``app.ctx.agent`` and
``app.ctx.input_channels``, which Rasa sets when it starts):

- an agent's reply goes out on the member's channel (the widget's socket.io room,
  or a LINE push; a REST conversation has no way to be reached, so its replies
  are only kept) and is appended to the conversation's tracker as a bot message
  with ``metadata.handoff_agent``, so it stays in the conversation's history;
- taken / handed back / closed / left / waited too long become ``EXTERNAL_handoff_*``
  intents that the Rasa server runs like the ``trigger_intent`` endpoint does, so
  the member-facing words stay in ``domain.yml`` (for the member's society) and
  the rules decide what follows ("was it solved?").

Every tracker change holds the conversation's lock, as Rasa's own endpoints do.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from bot.handoff.models import RASA_INPUT_CHANNEL, Agent, Handoff

logger = logging.getLogger(__name__)

AGENT_PREFIX = "担当者："
HANDOFF_MESSAGE_INTENT = "handoff_message"

TAKEN = "EXTERNAL_handoff_taken"
RETURNED = "EXTERNAL_handoff_returned"
CLOSED = "EXTERNAL_handoff_closed"
LEFT = "EXTERNAL_handoff_left"
WAITING = "EXTERNAL_handoff_waiting"
WAIT_LONG = "EXTERNAL_handoff_wait_long"


class RasaMemberLink:
    """Speaks to members through the Rasa server ``app`` (handed in once it exists)."""

    def __init__(self, app: Any = None) -> None:
        self.app = app

    @property
    def _agent(self) -> Any:
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or not agent.is_ready():
            raise RuntimeError("the Rasa server has no model loaded")
        return agent

    def output_for(self, channel: str) -> OutputChannel:
        """An output channel that reaches a member of ``channel`` without a reply context."""
        name = RASA_INPUT_CHANNEL.get(channel)
        for input_channel in getattr(self.app.ctx, "input_channels", None) or []:
            if input_channel.name() == name:
                output = input_channel.get_output_channel()
                if output is not None:
                    return output
        return CollectingOutputChannel()

    # -- the console's MemberLink ------------------------------------------------------

    async def agent_reply(self, handoff: Handoff, agent: Agent, text: str) -> None:
        shown = AGENT_PREFIX + text
        await self.output_for(handoff.channel).send_response(
            handoff.conversation_id, {"text": shown}
        )
        await self._append(
            handoff,
            BotUttered(shown, metadata={"handoff_agent": agent.display_name}),
        )

    async def taken(self, handoff: Handoff, agent: Agent) -> None:
        await self.trigger(handoff, TAKEN)

    async def handed_back(self, handoff: Handoff, agent: Agent) -> None:
        await self.trigger(handoff, RETURNED)

    async def closed(self, handoff: Handoff, agent: Agent) -> None:
        await self.trigger(handoff, CLOSED)

    # -- used by the gate and the queue watcher ------------------------------------------

    async def parse(self, text: str) -> dict[str, Any]:
        """The NLU's reading of ``text`` (no conversation is changed)."""
        return await self._agent.parse_message(text)

    async def trigger(
        self, handoff: Handoff, intent: str, output: Optional[OutputChannel] = None
    ) -> None:
        """Run ``intent`` in the member's conversation; the bot's answer goes to ``output``."""
        agent = self._agent
        output = output or self.output_for(handoff.channel)
        async with agent.lock_store.lock(handoff.conversation_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(
                handoff.conversation_id, output
            )
            await agent.processor.trigger_external_user_uttered(intent, None, tracker, output)

    async def keep_member_message(self, handoff: Handoff, text: str, input_channel: str) -> None:
        """The member's message to the agent, kept in the conversation without a bot turn."""
        await self._append(
            handoff,
            UserUttered(
                text,
                intent={"name": HANDOFF_MESSAGE_INTENT, "confidence": 1.0},
                input_channel=input_channel,
            ),
            ActionExecuted("action_listen"),
        )

    async def _append(self, handoff: Handoff, *events: Any) -> None:
        agent = self._agent
        async with agent.lock_store.lock(handoff.conversation_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(
                handoff.conversation_id, CollectingOutputChannel()
            )
            for event in events:
                tracker.update(event)
            await agent.processor.save_tracker(tracker)
