"""The agents' console's pages and JSON API: the queue, a conversation, take/reply/hand back/close.

:class:`ConsoleViews` is the top layer of :class:`bot.handoff.console.Console`,
the handlers the blueprint routes to. An agent's reply is stored first, then
handed to the :class:`MemberLink`; when the link fails the message stays stored
and the agent gets a JSON error to see.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional, Protocol

from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import json as json_response

from bot.handoff.console_auth import ConsoleAuth
from bot.handoff.display import (
    CHANNEL_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    Markup,
    format_duration,
    jst,
    lines_html,
    progress_line,
    render,
)
from bot.handoff.models import STATUS_ACTIVE, Agent, Handoff, Message
from bot.handoff.store_errors import HandoffClosed, HandoffNotFound, NotAssigned

# the console's one logger, whichever of its modules logs (operators filter on it)
logger = logging.getLogger("bot.handoff.console")

MAX_REPLY_LENGTH = 2000


class MemberLink(Protocol):
    """How the console reaches the member (implemented by the Rasa side, ``bot.handoff.link``)."""

    async def agent_reply(self, handoff: Handoff, agent: Agent, text: str) -> None:
        """Deliver the agent's text to the member on their channel and keep it in the history."""

    async def handed_back(self, handoff: Handoff, agent: Agent) -> None:
        """Tell the member the bot answers again."""

    async def closed(self, handoff: Handoff, agent: Agent) -> None:
        """Ask the member whether the matter was solved."""

    async def taken(self, handoff: Handoff, agent: Agent) -> None:
        """Tell the member a person has joined."""


class ConsoleViews(ConsoleAuth):
    """The pages and the JSON API (attributes set by ``Console.__init__``)."""

    link: MemberLink

    async def queue_page(self, request: Request) -> HTTPResponse:
        session = await self.session(request)
        if session is None:
            return redirect(self.login_url)
        agent, csrf = session
        handoffs = await self.store.run(self.store.queue, agent.society)
        now = self.store.clock()
        content = render(
            "queue.html",
            rows=self.queue_rows(handoffs, now),
            empty_hidden=Markup(" hidden" if handoffs else ""),
        )
        return self.page("queue", "対応待ちの会話", content, agent=agent, csrf=csrf)

    async def conversation_page(self, request: Request, handoff_id: str) -> HTTPResponse:
        session = await self.session(request)
        if session is None:
            return redirect(self.login_url)
        agent, csrf = session
        handoff = await self.visible(handoff_id, agent)
        if handoff is None:
            return self.not_found_page(agent, csrf)
        messages = await self.store.run(self.store.messages, handoff.id)
        packet = handoff.packet
        now = self.store.clock()
        content = render(
            "conversation.html",
            home=self.home,
            handoff_id=handoff.id,
            after=messages[-1].id if messages else 0,
            agent_id=agent.id,
            status=STATUS_LABELS.get(handoff.status, handoff.status),
            assigned=handoff.assigned_agent_name or "未割り当て",
            society_name=self.society_name(handoff.society),
            channel=CHANNEL_LABELS.get(handoff.channel, handoff.channel),
            reason=REASON_LABELS.get(handoff.reason, handoff.reason),
            topic=handoff.topic or "（不明）",
            created=jst(handoff.created_at),
            waiting=format_duration(handoff.waiting_seconds(now)),
            progress=lines_html(progress_line(packet.get("progress"))),
            errors=lines_html(packet.get("errors_mentioned")),
            bot_tried=lines_html(packet.get("bot_tried")),
            tickets=lines_html(packet.get("ticket_ids")),
            transcript=self.transcript_html(packet, messages),
        )
        return self.page("conversation", "会話", content, agent=agent, csrf=csrf)

    # -- JSON API ----------------------------------------------------------------

    async def api_queue(self, request: Request) -> HTTPResponse:
        agent, error = await self.api_session(request, post=False)
        if agent is None:
            assert error is not None
            return error
        handoffs = await self.store.run(self.store.queue, agent.society)
        now = self.store.clock()
        return json_response([self.handoff_json(h, agent, now) for h in handoffs])

    async def api_conversation(self, request: Request, handoff_id: str) -> HTTPResponse:
        agent, error = await self.api_session(request, post=False)
        if agent is None:
            assert error is not None
            return error
        handoff = await self.visible(handoff_id, agent)
        if handoff is None:
            return self.api_error(404, "not_found", "この会話は見つかりません。")
        raw_after = request.args.get("after", "0")
        if not raw_after.isdigit() or len(raw_after) > 18:
            return self.api_error(400, "bad_cursor", "after は 0 以上の整数で指定してください。")
        messages = await self.store.run(self.store.messages, handoff.id, int(raw_after))
        return json_response(
            {
                "handoff": self.handoff_json(handoff, agent, self.store.clock()),
                "packet": dict(handoff.packet),
                "messages": [self.message_json(m) for m in messages],
            }
        )

    async def api_action(self, request: Request, handoff_id: str, action: str) -> HTTPResponse:
        agent, error = await self.api_session(request, post=True)
        if agent is None:
            assert error is not None
            return error
        before = await self.visible(handoff_id, agent)
        if before is None:
            return self.api_error(404, "not_found", "この会話は見つかりません。")
        text = ""
        if action == "reply":
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                body = None
            given = body.get("text") if isinstance(body, dict) else None
            if not isinstance(given, str) or not given.strip() or len(given) > MAX_REPLY_LENGTH:
                return self.api_error(
                    400, "bad_text", f"返信は1〜{MAX_REPLY_LENGTH}文字で入力してください。"
                )
            text = given
        message: Optional[Message] = None
        try:
            if action == "take":
                handoff = await self.store.run(self.store.take, before.id, agent)
            elif action == "reply":
                message = await self.store.run(self.store.reply, before.id, agent, text)
                handoff = before
            elif action == "handback":
                handoff = await self.store.run(self.store.hand_back, before.id, agent)
            else:
                handoff = await self.store.run(self.store.close, before.id, agent)
        except HandoffNotFound:
            return self.api_error(404, "not_found", "この会話は見つかりません。")
        except HandoffClosed:
            return self.api_error(409, "closed", "この会話はすでに終了しています。")
        except NotAssigned:
            return self.api_error(
                409,
                "not_assigned",
                "先に「対応する」を押してください（ほかの担当者が対応中です）。",
            )
        now = self.store.clock()
        result: dict[str, Any] = {"handoff": self.handoff_json(handoff, agent, now)}
        if message is not None:
            result["message"] = self.message_json(message)
        try:
            if action == "take":
                changed = not (
                    before.status == STATUS_ACTIVE and before.assigned_agent_id == agent.id
                )
                if changed:
                    await self.link.taken(handoff, agent)
            elif action == "reply":
                await self.link.agent_reply(handoff, agent, text)
            elif action == "handback":
                await self.link.handed_back(handoff, agent)
            else:
                await self.link.closed(handoff, agent)
        except Exception:  # noqa: BLE001 - whatever the channel raised, the agent must see it
            logger.exception("Delivery to the member failed (%s, handoff %s)", action, handoff.id)
            return self.api_error(
                502,
                "delivery_failed",
                "会員への送信に失敗しました。記録には残っています。少し待ってからもう一度お試しください。",
                {
                    "handoff": result["handoff"],
                    **({"stored_message": result["message"]} if message is not None else {}),
                },
            )
        return json_response(result)
