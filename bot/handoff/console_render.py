"""What the agents' console shows: handoffs and messages as JSON, pages in the layout, errors.

:class:`ConsoleRendering` is the bottom layer of :class:`bot.handoff.console.Console`:
it needs only the URL prefix and the societies' names. The labels, times and
escaping templates it fills are :mod:`bot.handoff.display`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional, Sequence

from sanic.response import HTTPResponse
from sanic.response import html as html_response
from sanic.response import json as json_response

from bot.handoff.display import (
    AUTHOR_LABELS,
    CHANNEL_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    Markup,
    author_label,
    format_duration,
    jst,
    render,
)
from bot.handoff.models import STATUS_ACTIVE, Agent, Handoff, Message


class ConsoleRendering:
    """Values and pages as the console shows them (attributes set by ``Console.__init__``)."""

    societies: dict[str, str]
    prefix: str
    home: str

    # -- values as the console shows them ------------------------------------

    def society_name(self, key: str) -> str:
        return self.societies.get(key, key)

    def handoff_json(self, handoff: Handoff, agent: Agent, now: dt.datetime) -> dict[str, Any]:
        waiting = handoff.waiting_seconds(now)
        return {
            "id": handoff.id,
            "society": handoff.society,
            "society_name": self.society_name(handoff.society),
            "channel": handoff.channel,
            "channel_label": CHANNEL_LABELS.get(handoff.channel, handoff.channel),
            "status": handoff.status,
            "status_label": STATUS_LABELS.get(handoff.status, handoff.status),
            "reason": handoff.reason,
            "reason_label": REASON_LABELS.get(handoff.reason, handoff.reason),
            "topic": handoff.topic,
            "waiting_seconds": waiting,
            "waiting": format_duration(waiting),
            "assigned_agent": handoff.assigned_agent_name,
            "assigned_to_me": handoff.status == STATUS_ACTIVE
            and handoff.assigned_agent_id == agent.id,
            "created_at": handoff.created_at.isoformat(),
            "created": jst(handoff.created_at),
        }

    @staticmethod
    def message_json(message: Message) -> dict[str, Any]:
        return {
            "id": message.id,
            "author": message.author,
            "author_label": author_label(message.author, message.agent_name),
            "text": message.text,
            "created_at": message.created_at.isoformat(),
            "time": jst(message.created_at),
        }

    # -- responses -------------------------------------------------------------

    def page(
        self,
        page: str,
        title: str,
        content: Markup,
        *,
        agent: Optional[Agent] = None,
        csrf: str = "",
        status: int = 200,
    ) -> HTTPResponse:
        header = Markup("")
        if agent is not None:
            header = render(
                "agent_bar.html",
                prefix=self.prefix,
                csrf=csrf,
                society_name=self.society_name(agent.society),
                agent_name=agent.display_name,
            )
        body = render(
            "layout.html",
            title=title,
            prefix=self.prefix,
            home=self.home,
            page=page,
            csrf=csrf,
            header=header,
            content=content,
        )
        return html_response(body, status=status)

    def not_found_page(self, agent: Agent, csrf: str) -> HTTPResponse:
        content = render(
            "error.html",
            heading="見つかりません",
            message="この会話は見つかりません。すでに終了したか、別の健保組合の会話です。",
            home=self.home,
        )
        return self.page("error", "見つかりません", content, agent=agent, csrf=csrf, status=404)

    @staticmethod
    def api_error(
        status: int, code: str, text: str, extra: Optional[Mapping[str, Any]] = None
    ) -> HTTPResponse:
        """``{"error": code, "message": text, ...extra}``; ``message`` is for the agent to read."""
        return json_response({**(extra or {}), "error": code, "message": text}, status=status)

    def queue_rows(self, handoffs: Sequence[Handoff], now: dt.datetime) -> Markup:
        return Markup(
            "".join(
                render(
                    "queue_row.html",
                    status_code=h.status,
                    href=f"{self.prefix}/conversations/{h.id}",
                    created=jst(h.created_at),
                    waiting=format_duration(h.waiting_seconds(now)),
                    status=STATUS_LABELS.get(h.status, h.status),
                    reason=REASON_LABELS.get(h.reason, h.reason),
                    topic=h.topic,
                    channel=CHANNEL_LABELS.get(h.channel, h.channel),
                    assigned=h.assigned_agent_name or "",
                )
                for h in handoffs
            )
        )

    def transcript_html(self, packet: Mapping[str, Any], messages: Sequence[Message]) -> Markup:
        items: list[str] = []
        before = packet.get("transcript")
        for entry in before if isinstance(before, list) else []:
            if not isinstance(entry, Mapping):
                continue
            author = str(entry.get("author") or "bot")
            author = author if author in AUTHOR_LABELS else "bot"
            when = entry.get("at")
            time = ""
            if isinstance(when, str):
                try:
                    time = jst(dt.datetime.fromisoformat(when))
                except ValueError:
                    time = ""
            items.append(
                render(
                    "message.html",
                    author=f"{author} before",
                    id="",
                    label=f"{author_label(author)}（引き継ぎ前）",
                    time=time,
                    text=str(entry.get("text") or ""),
                )
            )
        for m in messages:
            items.append(
                render(
                    "message.html",
                    author=m.author,
                    id=m.id,
                    label=author_label(m.author, m.agent_name),
                    time=jst(m.created_at),
                    text=m.text,
                )
            )
        return Markup("".join(items))
