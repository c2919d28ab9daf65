"""LINE Messaging API channel: each society's LINE official account talks to the bot.

One webhook per society, set as the webhook URL of that society's LINE channel::

    POST /webhooks/line/<society>/webhook      e.g. https://bot.example.jp/webhooks/line/kose/webhook

configured in ``credentials.yml``::

    bot.channels.line.LineInput:
      societies:
        kose:
          channel_secret: ${LINE_KOSE_CHANNEL_SECRET}
          access_token: ${LINE_KOSE_ACCESS_TOKEN}

What happens to a request::

    webhook ── body over 1 MiB (Content-Length, or as it streams in)? ──► 413, left unread
      └─ X-Line-Signature = base64(HMAC-SHA256(channel secret, raw body))?
      ├─ missing or wrong ──► 401, the body is not even parsed
      └─ right ──► events after the first 20 are skipped (logged)
                   ──► events already accepted before (same webhookEventId, or the same
                       event without one) are dropped: redelivery and replay
                       (bot.channels.line_dedup, a database table shared by processes)
                   ──► 200 at once; the events are handled afterwards, in order, in a task:
                        older than 10 min   ──► not answered as new; a message gets a
                                                "please send it again" push (_stale)
                        text / postback ──► Rasa (metadata {"tenant": <society>}, and the
                                            origin: a keyed digest of the LINE user id,
                                            bot.channels.origin; payloads also carry the
                                            society, see bot.channels.input_bounds)
                        follow          ──► Rasa "/greet" (the society's greeting)
                        other messages  ──► "please type your question"
                        unfollow, other ──► logged only

1 MiB, 20 events and 10 minutes are the defaults of the limits, which are set in the
environment (bot.channels.line_intake.WebhookLimits).

The bot's messages of one turn are collected and sent together: by reply while the
reply token is fresh (unused, under 50 s after the event) and LINE accepts it, by push
otherwise (``bot.channels.line_output``). Buttons become quick replies on the last
message; long texts are split and surplus messages merged so that a turn fits LINE's
limits (``bot.channels.line_messages``). When a turn takes longer than a second, the
loading animation runs until the answer is sent.

Conversation ids are ``line:<society>:<LINE userId>``, so one member's chats with two
societies' accounts are two conversations, and a LINE conversation id never looks like
a widget session id. Only one-to-one chats are answered (group and room events are
logged and dropped): a login helpdesk conversation does not belong in a group.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Mapping, Optional, Text

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.every_turn import answer_every_turn
from bot.channels.input_bounds import BoundedOnNewMessage, InputBounds, bound_inputs
from bot.channels.line_accounts import LineAccount, accounts_from_credentials
from bot.channels.line_api import LineApi, LineApiError
from bot.channels.line_dedup import EventLedger, event_key
from bot.channels.line_intake import (
    BodyRefused,
    WebhookLimits,
    event_age,
    read_body,
    stale_note,
    stop_reading,
)
from bot.channels.line_output import (
    REPLY_TOKEN_TTL_S,
    Clock,
    LineOutput,
    ReplyToken,
    conversation_id,
)
from bot.channels.origin import KIND_LINE, Origins
from bot.channels.questions import answer_each_question
from bot.domain.societies import METADATA_KEY
from bot.gc_tuning import freeze_after_start
from bot.handoff.gate import AppHolder, gate_messages
from bot.settings import DEFAULT_LINE_API_BASE, ChannelSettings

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Line-Signature"

LOADING_AFTER_S = 1.0  # turns quicker than this need no loading animation
LOADING_SECONDS = 20  # 5..60 in steps of 5; renewed while the turn runs

GREET_PAYLOAD = "/greet"
PLEASE_TYPE = (
    "メッセージありがとうございます。スタンプや画像にはお答えできないため、"
    "ご質問を文字で入力してください。"
)
SORRY_TRY_LATER = (
    "申し訳ありません。ただいまお答えできませんでした。しばらくしてからもう一度お試しください。"
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


# --- input --------------------------------------------------------------------------


class LineInput(InputChannel):
    """LINE webhooks in, one LINE channel per society (see the module docstring)."""

    @classmethod
    def name(cls) -> Text:
        return "line"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        if not credentials:
            return cls.raise_missing_credentials_exception()
        settings = ChannelSettings.from_env()
        return cls(
            accounts_from_credentials(credentials.get("societies")),
            api_base=credentials.get("api_base") or settings.line_api_base,
            limits=WebhookLimits.from_settings(settings),
        )

    def __init__(
        self,
        accounts: Mapping[str, LineAccount],
        api_base: str = DEFAULT_LINE_API_BASE,
        clock: Clock = time.time,
        ledger: Optional[EventLedger] = None,
        limits: Optional[WebhookLimits] = None,
        reply_token_ttl: float = REPLY_TOKEN_TTL_S,
        loading_after: float = LOADING_AFTER_S,
        loading_seconds: int = LOADING_SECONDS,
        timeout: Optional[aiohttp.ClientTimeout] = None,
    ) -> None:
        self.accounts = dict(accounts)
        self.api_base = api_base
        self.clock = clock
        # accepted events' keys: the handoff database unless another ledger is handed in
        self.ledger = ledger or EventLedger(clock=clock)
        self.limits = limits or WebhookLimits()
        self.reply_token_ttl = reply_token_ttl
        self.loading_after = loading_after
        self.loading_seconds = loading_seconds
        self.timeout = timeout
        self._session: Optional[aiohttp.ClientSession] = None
        self._tasks: set[asyncio.Task] = set()

    # the HTTP client is made on first use, inside the server's event loop
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def apis(self) -> Dict[str, LineApi]:
        return {
            key: LineApi(self.api_base, account.access_token, self._http, self.timeout)
            for key, account in self.accounts.items()
        }

    def origin_of(self, account: LineAccount, user_id: str) -> str:
        """The member's origin (``bot.channels.origin``): their LINE user id, digested with
        the channel secret. Stable like the conversation id; recorded by the channel."""
        return Origins(KIND_LINE, account.channel_secret).of(user_id)

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Pushes (no reply token): for messages sent through Rasa's HTTP API."""
        return LineOutput(self.apis(), clock=self.clock)

    async def close(self, grace: float = 10.0) -> None:
        """Let running turns finish (up to ``grace`` seconds), then close the HTTP client."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.ledger.dispose()

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        line_webhook = Blueprint("line_webhook", __name__)
        # while an agent has the conversation, messages go to the agent (bot.handoff.gate)
        holder = AppHolder()
        holder.attach(line_webhook)
        freeze_after_start(line_webhook)
        handle = bound_inputs(
            gate_messages(answer_each_question(answer_every_turn(on_new_message), holder), holder), InputBounds.from_env()
        )

        @line_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # stream=True: the body is not read before the handler has checked its size
        @line_webhook.route("/<society>/webhook", methods=["POST"], stream=True)
        async def webhook(request: Request, society: Text) -> HTTPResponse:
            account = self.accounts.get(society.lower())
            if account is None:
                stop_reading(request)
                return response.json({"message": "unknown LINE channel"}, status=404)
            try:
                body = await read_body(
                    request, self.limits.max_body_bytes, self.limits.read_timeout
                )
            except BodyRefused as e:
                stop_reading(request)
                logger.warning("LINE %s: webhook refused unread (%s): %s", society, e.status, e)
                return response.json({"message": e.message}, status=e.status)
            if not account.signature_ok(body, request.headers.get(SIGNATURE_HEADER)):
                logger.warning(
                    "LINE %s: request with a missing or wrong signature rejected", society
                )
                return response.json({"message": "invalid signature"}, status=401)
            try:
                payload = json.loads(body)
                events = payload["events"]
                if not isinstance(events, list):
                    raise TypeError("events is not a list")
            except (ValueError, KeyError, TypeError) as e:
                logger.warning("LINE %s: malformed webhook body: %s", society, e)
                return response.json({"message": "malformed body"}, status=400)
            received_at = self.clock()
            first = await self._first_deliveries(account, events)
            if first:
                self._spawn(self._handle_events(account, first, received_at, handle))
            return response.json({})

        @line_webhook.listener("before_server_start")
        async def start(_app: Any, _loop: Any) -> None:
            try:
                await self.ledger.start()
            except Exception as e:  # the webhook falls back to this process's memory
                logger.error("LINE: redelivery memory (database) not ready: %r", e)

        @line_webhook.listener("before_server_stop")
        async def close(_app: Any, _loop: Any) -> None:
            await self.close()

        return line_webhook

    async def _first_deliveries(
        self, account: LineAccount, events: List[Any]
    ) -> List[Dict[str, Any]]:
        """The body's events (at most ``max_events``) that were never accepted before."""
        society = account.society
        limit = self.limits.max_events
        if len(events) > limit:
            logger.warning(
                "LINE %s: %d events in one webhook; the %d after the first %d are skipped",
                society,
                len(events),
                len(events) - limit,
                limit,
            )
        candidates = [e for e in events[:limit] if isinstance(e, dict)]
        if not candidates:
            return []
        keys = [event_key(society, e) for e in candidates]
        first = await self.ledger.first_time(society, keys)
        accepted = []
        for event, is_first in zip(candidates, first, strict=True):
            if is_first:
                accepted.append(event)
            else:
                logger.info(
                    "LINE %s: event %s already handled (redelivery=%s)",
                    society,
                    event.get("webhookEventId") or "without id",
                    (event.get("deliveryContext") or {}).get("isRedelivery"),
                )
        return accepted

    def _spawn(self, coro: Awaitable[None]) -> None:
        # keep a reference: the loop holds tasks only weakly
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle_events(
        self,
        account: LineAccount,
        events: List[Dict[str, Any]],
        received_at: float,
        on_new_message: BoundedOnNewMessage,
    ) -> None:
        noted: set[str] = set()
        for event in events:
            try:
                age = event_age(event, received_at)
                if age is None or age > self.limits.max_event_age:
                    await self._stale(account, event, age, noted)
                else:
                    await self._handle_event(account, event, received_at, on_new_message)
            except Exception:
                logger.exception(
                    "LINE %s: event %s failed", account.society, event.get("webhookEventId")
                )

    async def _stale(
        self, account: LineAccount, event: Mapping[str, Any], age: Optional[float], noted: set[str]
    ) -> None:
        """An event too old to be answered as if it were new.

        Its reply token expired long ago, and an answer to a question asked minutes or
        hours earlier (perhaps already asked again, or answered by the helpdesk) would
        confuse more than help; yet LINE redelivers failed webhooks late, and a member
        whose message got no answer must not be left waiting in silence. So a message
        or postback from a one-to-one chat gets one short push per member and webhook:
        "it arrived too late, please send it again" (:func:`stale_note`). Only while
        the redelivery memory still holds the event (its retention, a day), so no
        event is ever noted twice; older events, and events without a timestamp (LINE
        always sends one), are logged and dropped, as are follows, unfollows and the
        rest.
        """
        source = event.get("source") or {}
        user_id = source.get("userId")
        logger.warning(
            "LINE %s: %s event %s is %s old; not answered as new",
            account.society,
            event.get("type"),
            event.get("webhookEventId") or "without id",
            "of unknown age" if age is None else f"{age:.0f} s",
        )
        if (
            age is None
            or age > self.ledger.retention
            or event.get("type") not in ("message", "postback")
            or event.get("mode") == "standby"
            or source.get("type") != "user"
            or not isinstance(user_id, str)
            or not user_id
            or user_id in noted
        ):
            return
        noted.add(user_id)
        output = self._output(account, None)
        await output.send_text_message(
            conversation_id(account.society, user_id), stale_note(event.get("timestamp"))
        )
        await output.flush()

    def _reply_token(self, event: Mapping[str, Any], received_at: float) -> Optional[ReplyToken]:
        token = event.get("replyToken")
        if not isinstance(token, str) or not token:
            return None
        issued_at = received_at
        timestamp = event.get("timestamp")
        if isinstance(timestamp, (int, float)):
            # the event's own time: a redelivered event's token is as old as the event
            issued_at = min(received_at, timestamp / 1000.0)
        return ReplyToken(token, issued_at, ttl=self.reply_token_ttl)

    async def _handle_event(
        self,
        account: LineAccount,
        event: Dict[str, Any],
        received_at: float,
        on_new_message: BoundedOnNewMessage,
    ) -> None:
        kind = event.get("type")
        source = event.get("source") or {}
        user_id = source.get("userId")
        if event.get("mode") == "standby":
            return  # another module channel owns the chat
        if source.get("type") != "user" or not isinstance(user_id, str) or not user_id:
            logger.info(
                "LINE %s: %s event from a %s ignored", account.society, kind, source.get("type")
            )
            return
        reply = self._reply_token(event, received_at)
        if kind == "message":
            message = event.get("message") or {}
            if message.get("type") == "text" and str(message.get("text") or "").strip():
                await self._turn(
                    account, user_id, str(message["text"]), reply, event, on_new_message
                )
            else:
                output = self._output(account, reply)
                await output.send_text_message(
                    conversation_id(account.society, user_id), PLEASE_TYPE
                )
                await output.flush()
        elif kind == "postback":
            data = str((event.get("postback") or {}).get("data") or "").strip()
            if data:
                await self._turn(account, user_id, data, reply, event, on_new_message)
        elif kind == "follow":
            await self._turn(account, user_id, GREET_PAYLOAD, reply, event, on_new_message)
        elif kind == "unfollow":
            logger.info("LINE %s: %s unfollowed", account.society, user_id)
        else:
            logger.debug("LINE %s: %s event ignored", account.society, kind)

    def _output(self, account: LineAccount, reply: Optional[ReplyToken]) -> LineOutput:
        apis = self.apis()
        return LineOutput(
            {account.society: apis[account.society]}, reply, buffered=True, clock=self.clock
        )

    async def _turn(
        self,
        account: LineAccount,
        user_id: str,
        text: str,
        reply: Optional[ReplyToken],
        event: Mapping[str, Any],
        on_new_message: BoundedOnNewMessage,
    ) -> None:
        """One message to Rasa; its answer goes out in as few calls as possible."""
        output = self._output(account, reply)
        sender_id = conversation_id(account.society, user_id)
        message = UserMessage(
            text,  # a payload gets the society from bound_inputs (bounded_message)
            output,
            sender_id,
            input_channel=self.name(),
            message_id=event.get("webhookEventId"),
            metadata={METADATA_KEY: account.society},
        )
        loading = asyncio.ensure_future(self._loading(output.apis[account.society], user_id))
        try:
            await on_new_message(message, self.origin_of(account, user_id), account.society)
        except Exception:
            logger.exception("LINE %s: Rasa failed on a message from %s", account.society, user_id)
            await output.send_text_message(sender_id, SORRY_TRY_LATER)
        finally:
            loading.cancel()
            await asyncio.gather(loading, return_exceptions=True)
        await output.flush()

    async def _loading(self, api: LineApi, user_id: str) -> None:
        """The loading animation, from ``loading_after`` seconds on, renewed until cancelled."""
        await asyncio.sleep(self.loading_after)
        while True:
            try:
                await api.show_loading(user_id, self.loading_seconds)
            except (LineApiError, aiohttp.ClientError, asyncio.TimeoutError) as e:
                logger.warning("LINE loading animation failed: %r", e)
                return
            await asyncio.sleep(self.loading_seconds)
