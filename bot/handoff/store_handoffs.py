"""The handoff queue: conversations handed to people and the lines written in them.

:class:`HandoffQueue` is the part of :class:`bot.handoff.store.HandoffStore` that
opens, lists, takes, hands back and closes handoffs, and keeps their messages (a
member's line masked, ``bot.domain.masking.mask_text``). Read-check-write steps lock the
handoff's row (``_lock``), so two agents never both take one.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any, Mapping, Optional

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from bot.domain.masking import mask_text
from bot.handoff.models import (
    AUTHORS,
    CHANNELS,
    OPEN_STATUSES,
    STATUS_ACTIVE,
    STATUS_CLOSED,
    STATUS_LEFT,
    STATUS_QUEUED,
    STATUS_RETURNED,
    Agent,
    Handoff,
    Message,
    agents_table,
    handoffs_table,
    messages_table,
)
from bot.handoff.store_core import StoreCore
from bot.handoff.store_errors import (
    HandoffClosed,
    HandoffNotFound,
    InvalidValue,
    NotAssigned,
    UnknownSociety,
)


def _packet(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_h = handoffs_table.c
_assigned = agents_table.alias("assigned_agent")
_HANDOFF_SELECT = select(
    handoffs_table, _assigned.c.display_name.label("assigned_agent_name")
).select_from(handoffs_table.outerjoin(_assigned, _assigned.c.id == _h.assigned_agent_id))
_author_agent = agents_table.alias("author_agent")
_MESSAGE_SELECT = select(
    messages_table, _author_agent.c.display_name.label("agent_name")
).select_from(
    messages_table.outerjoin(_author_agent, _author_agent.c.id == messages_table.c.agent_id)
)


def _handoff(row: Row) -> Handoff:
    m = row._mapping
    return Handoff(
        id=m["id"],
        conversation_id=m["conversation_id"],
        society=m["society"],
        channel=m["channel"],
        status=m["status"],
        reason=m["reason"],
        packet=_packet(m["packet"]),
        created_at=m["created_at"],
        assigned_agent_id=m["assigned_agent_id"],
        assigned_agent_name=m["assigned_agent_name"],
        assigned_at=m["assigned_at"],
        ended_at=m["ended_at"],
        solved=m["solved"],
        wait_notified_at=m["wait_notified_at"],
    )


def _message(row: Row) -> Message:
    m = row._mapping
    return Message(
        id=m["id"],
        handoff_id=m["handoff_id"],
        author=m["author"],
        text=m["text"],
        created_at=m["created_at"],
        agent_id=m["agent_id"],
        agent_name=m["agent_name"],
    )


class HandoffQueue(StoreCore):
    """Handoffs and their messages (attributes set by ``HandoffStore.__init__``)."""

    known_societies: Optional[frozenset[str]]

    @staticmethod
    def _load(conn: Connection, handoff_id: str) -> Optional[Handoff]:
        row = conn.execute(_HANDOFF_SELECT.where(_h.id == handoff_id)).first()
        return _handoff(row) if row is not None else None

    @staticmethod
    def _lock(conn: Connection, handoff_id: str, society: Optional[str] = None) -> Handoff:
        """The handoff, row-locked on PostgreSQL; other societies' ones do not exist."""
        row = conn.execute(
            select(_h.id, _h.society).where(_h.id == handoff_id).with_for_update()
        ).first()
        if row is None or (society is not None and row.society != society):
            raise HandoffNotFound(handoff_id)
        loaded = HandoffQueue._load(conn, handoff_id)
        assert loaded is not None
        return loaded

    def _add(
        self,
        conn: Connection,
        handoff_id: str,
        author: str,
        text: str,
        agent_id: Optional[int] = None,
    ) -> int:
        result = conn.execute(
            insert(messages_table).values(
                handoff_id=handoff_id,
                author=author,
                agent_id=agent_id,
                text=text,
                created_at=self._now(),
            )
        )
        return int(result.inserted_primary_key[0])

    # -- handoffs ---------------------------------------------------------------

    def open(
        self,
        conversation_id: str,
        society: str,
        channel: str,
        reason: str,
        packet: Mapping[str, Any],
    ) -> Handoff:
        """Queue the conversation for people; the open one it already has comes back unchanged."""
        if not conversation_id or not isinstance(conversation_id, str):
            raise InvalidValue("conversation_id is required")
        if channel not in CHANNELS:
            raise InvalidValue(f"unknown channel {channel!r}")
        if not reason or not isinstance(reason, str) or len(reason) > 64:
            raise InvalidValue("reason must be a short code")
        if self.known_societies is not None and society not in self.known_societies:
            raise UnknownSociety(society)
        packet_json = json.dumps(dict(packet), ensure_ascii=False, default=str)

        def work(conn: Connection) -> Handoff:
            existing = conn.execute(
                _HANDOFF_SELECT.where(
                    _h.conversation_id == conversation_id, _h.status.in_(OPEN_STATUSES)
                )
            ).first()
            if existing is not None:
                return _handoff(existing)
            handoff_id = secrets.token_urlsafe(12)
            conn.execute(
                insert(handoffs_table).values(
                    id=handoff_id,
                    conversation_id=conversation_id,
                    society=society,
                    channel=channel,
                    status=STATUS_QUEUED,
                    reason=reason,
                    packet=packet_json,
                    created_at=self._now(),
                )
            )
            self._add(conn, handoff_id, "system", "担当者への引き継ぎを受け付けました")
            loaded = self._load(conn, handoff_id)
            assert loaded is not None
            return loaded

        try:
            return self._write(work)
        except IntegrityError:
            # Another process opened one in between (PostgreSQL); that one is the answer.
            current = self.current(conversation_id)
            if current is None:
                raise
            return current

    def current(self, conversation_id: str) -> Optional[Handoff]:
        """The conversation's queued or active handoff, if any (the bot stays silent while there is one)."""

        def work(conn: Connection) -> Optional[Handoff]:
            row = conn.execute(
                _HANDOFF_SELECT.where(
                    _h.conversation_id == conversation_id, _h.status.in_(OPEN_STATUSES)
                )
            ).first()
            return _handoff(row) if row is not None else None

        return self._read(work)

    def get(self, handoff_id: str) -> Optional[Handoff]:
        return self._read(lambda conn: self._load(conn, handoff_id))

    def queue(self, society: str) -> list[Handoff]:
        """The society's queued and active handoffs, the longest-waiting first."""

        def work(conn: Connection) -> list[Handoff]:
            rows = conn.execute(
                _HANDOFF_SELECT.where(_h.society == society, _h.status.in_(OPEN_STATUSES)).order_by(
                    _h.created_at, _h.id
                )
            )
            return [_handoff(r) for r in rows]

        return self._read(work)

    def take(self, handoff_id: str, agent: Agent) -> Handoff:
        """``agent`` answers from now on: queued → active, or taken over from a colleague."""

        def work(conn: Connection) -> Handoff:
            handoff = self._lock(conn, handoff_id, agent.society)
            if not handoff.is_open:
                raise HandoffClosed(handoff_id)
            if handoff.status == STATUS_ACTIVE and handoff.assigned_agent_id == agent.id:
                return handoff
            conn.execute(
                update(handoffs_table)
                .where(_h.id == handoff_id)
                .values(status=STATUS_ACTIVE, assigned_agent_id=agent.id, assigned_at=self._now())
            )
            verb = "対応を始めました" if handoff.status == STATUS_QUEUED else "対応を引き継ぎました"
            self._add(conn, handoff_id, "system", f"{agent.display_name}さんが{verb}", agent.id)
            loaded = self._load(conn, handoff_id)
            assert loaded is not None
            return loaded

        return self._write(work)

    def add_message(
        self, handoff_id: str, author: str, text: str, agent_id: Optional[int] = None
    ) -> Message:
        """Append a line. Members and agents write only while the handoff is open.

        A member's line is kept with its birth dates, codes, passwords, 記号・番号
        and phone numbers as ``****`` (:func:`bot.domain.masking.mask_text`), as the
        tracker store keeps the conversation before the handoff.
        """
        if author not in AUTHORS:
            raise InvalidValue(f"unknown author {author!r}")
        if not isinstance(text, str):
            raise InvalidValue("text must be a string")
        if author == "member":
            text = mask_text(text)

        def work(conn: Connection) -> Message:
            handoff = self._lock(conn, handoff_id)
            if author in ("member", "agent") and not handoff.is_open:
                raise HandoffClosed(handoff_id)
            message_id = self._add(conn, handoff_id, author, text, agent_id)
            row = conn.execute(_MESSAGE_SELECT.where(messages_table.c.id == message_id)).one()
            return _message(row)

        return self._write(work)

    def reply(self, handoff_id: str, agent: Agent, text: str) -> Message:
        """An agent's message, only from the agent who holds the active handoff."""

        def work(conn: Connection) -> Message:
            handoff = self._lock(conn, handoff_id, agent.society)
            if not handoff.is_open:
                raise HandoffClosed(handoff_id)
            if handoff.status != STATUS_ACTIVE or handoff.assigned_agent_id != agent.id:
                raise NotAssigned(handoff_id)
            message_id = self._add(conn, handoff_id, "agent", text, agent.id)
            row = conn.execute(_MESSAGE_SELECT.where(messages_table.c.id == message_id)).one()
            return _message(row)

        return self._write(work)

    def messages(self, handoff_id: str, after_id: int = 0, limit: int = 500) -> list[Message]:
        """Lines with an id above ``after_id``, oldest first (poll with the last id you saw)."""

        def work(conn: Connection) -> list[Message]:
            rows = conn.execute(
                _MESSAGE_SELECT.where(
                    messages_table.c.handoff_id == handoff_id, messages_table.c.id > after_id
                )
                .order_by(messages_table.c.id)
                .limit(limit)
            )
            return [_message(r) for r in rows]

        return self._read(work)

    def _end(self, handoff_id: str, agent: Agent, status: str, note: str) -> Handoff:
        def work(conn: Connection) -> Handoff:
            handoff = self._lock(conn, handoff_id, agent.society)
            if not handoff.is_open:
                raise HandoffClosed(handoff_id)
            if handoff.status == STATUS_ACTIVE and handoff.assigned_agent_id != agent.id:
                raise NotAssigned(handoff_id)
            conn.execute(
                update(handoffs_table)
                .where(_h.id == handoff_id)
                .values(status=status, ended_at=self._now())
            )
            self._add(conn, handoff_id, "system", f"{agent.display_name}さんが{note}", agent.id)
            loaded = self._load(conn, handoff_id)
            assert loaded is not None
            return loaded

        return self._write(work)

    def hand_back(self, handoff_id: str, agent: Agent) -> Handoff:
        """The bot answers again (→ 'returned'). Active ones only by their agent; queued ones by anyone of the society."""
        return self._end(handoff_id, agent, STATUS_RETURNED, "ボットに戻しました")

    def close(self, handoff_id: str, agent: Agent) -> Handoff:
        """The matter is done (→ 'closed'); same rule as :meth:`hand_back`."""
        return self._end(handoff_id, agent, STATUS_CLOSED, "対応を終了しました")

    def leave(self, conversation_id: str) -> Optional[Handoff]:
        """The member left (stopped waiting): the open handoff becomes 'left'; None if there was none."""

        def work(conn: Connection) -> Optional[Handoff]:
            row = conn.execute(
                select(_h.id)
                .where(_h.conversation_id == conversation_id, _h.status.in_(OPEN_STATUSES))
                .with_for_update()
            ).first()
            if row is None:
                return None
            conn.execute(
                update(handoffs_table)
                .where(_h.id == row.id)
                .values(status=STATUS_LEFT, ended_at=self._now())
            )
            self._add(conn, row.id, "system", "会員が待機をやめました")
            return self._load(conn, row.id)

        return self._write(work)

    def record_solved(
        self,
        solved: bool,
        *,
        conversation_id: Optional[str] = None,
        handoff_id: Optional[str] = None,
    ) -> Optional[Handoff]:
        """The member's answer to "was it solved?" on the most recent closed handoff.

        Give exactly one of ``conversation_id`` and ``handoff_id``; None when
        there is no closed handoff to record it on.
        """
        if (conversation_id is None) == (handoff_id is None):
            raise InvalidValue("give exactly one of conversation_id and handoff_id")

        def work(conn: Connection) -> Optional[Handoff]:
            query = select(_h.id).where(_h.status == STATUS_CLOSED)
            if handoff_id is not None:
                query = query.where(_h.id == handoff_id)
            else:
                query = query.where(_h.conversation_id == conversation_id)
            row = conn.execute(
                query.order_by(_h.ended_at.desc(), _h.created_at.desc()).limit(1)
            ).first()
            if row is None:
                return None
            conn.execute(update(handoffs_table).where(_h.id == row.id).values(solved=bool(solved)))
            return self._load(conn, row.id)

        return self._write(work)

    def overdue(self, max_wait: dt.timedelta) -> list[Handoff]:
        """Queued handoffs older than ``max_wait`` whose member has not yet been told to wait."""
        cutoff = self._now() - max_wait

        def work(conn: Connection) -> list[Handoff]:
            rows = conn.execute(
                _HANDOFF_SELECT.where(
                    _h.status == STATUS_QUEUED,
                    _h.created_at <= cutoff,
                    _h.wait_notified_at.is_(None),
                ).order_by(_h.created_at, _h.id)
            )
            return [_handoff(r) for r in rows]

        return self._read(work)

    def mark_wait_notified(self, handoff_id: str) -> None:
        def work(conn: Connection) -> None:
            result = conn.execute(
                update(handoffs_table)
                .where(_h.id == handoff_id)
                .values(wait_notified_at=self._now())
            )
            if result.rowcount == 0:
                raise HandoffNotFound(handoff_id)

        self._write(work)
