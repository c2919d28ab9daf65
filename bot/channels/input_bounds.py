"""Every member message is bounded before the bot spends anything on it.

All our channels (REST, widget, LINE) hand their messages to Rasa through
:func:`bound_inputs`, outermost, before the handoff gate and the bot::

    channel ──► bound_inputs ──► gate_messages ──► answer_every_turn ──► Rasa

It enforces, in this order:

- **length**: a message longer than ``max_message_chars`` (``KOSMO_MAX_MESSAGE_CHARS``,
  default 2,000 characters) is not read at all. The channel answers it directly
  with :data:`TOO_LONG` ("too long, please split it"), without the NLU, the
  tracker or the handoff gate; the log keeps its length, never its text. (The
  NLU reads at most 10,000 characters anyway, ``bot.nlu.japanese_tokenizer``,
  for callers that reach it without a channel, such as ``/model/parse``.)
- **metadata**: only the keys the bot uses are kept (:data:`METADATA_KEYS`:
  ``tenant``, the member's society (the wire name, ``bot.domain.societies.METADATA_KEY``),
  and ``display_text``, a pressed button's
  title), as short strings; anything else is dropped, so a megabyte of
  metadata never reaches the tracker store.
- **payloads**: a message starting with ``/`` is parsed by Rasa as an intent,
  with entities (``/intent{"slot": "value"}``), skipping the NLU. Only the
  payloads the bot's own buttons and channels send are let through
  (:data:`MEMBER_PAYLOADS`: the widget's and LINE's opening ``/greet``, the yes /
  no buttons, the clarification's ``/choose_topic{"topic": ...}``; and the
  clarification's other topics, ``/account_locked`` say, the intents named in
  ``data/topic_labels.yml``). Anything
  else a member types, ``/EXTERNAL_handoff_taken`` or ``/share_password`` say,
  is plain text: its leading ``/`` becomes a full-width ``／``, so the NLU reads
  it like any other message. The handoff events the server itself runs
  (``bot.handoff.link``) go to Rasa's processor directly, not through a channel.
  Payload or not is decided once, here, for every channel, on the text stripped
  of white space as Rasa strips it (so `` /greet`` is a payload here as it is to
  Rasa). A payload's ``society`` entity is the channel's society and nothing else:
  one the member wrote is dropped, and the channel's (LINE's account, the REST
  metadata's known society, the widget's page) is written in.
- **origin**: the channel's own record of who sent the message on the channel
  (``bot.channels.origin``: a keyed digest of the client address, or of the LINE
  user id) is added under ``origin`` *after* the client's metadata was filtered;
  an ``origin`` the client sent is dropped with every other unknown key.
- **display_text** is the title of a pressed button, shown in the agent's
  transcript and the widget's history instead of the payload; it is kept only on
  a payload message and at most :data:`MAX_DISPLAY_TEXT` characters, so free
  text can never be shown as something the member did not write.

The request bodies that carry messages are bounded too, before they are read:
``MAX_BODY_BYTES`` for the REST channel (``bot.channels.rest``) and the widget's
socket.io packets (``bot.channels.widget``).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, FrozenSet, Mapping, Optional, Protocol

from rasa.core.channels.channel import UserMessage

from bot.channels import with_society_entity
from bot.domain.messages import DISPLAY_TEXT_KEY, MAX_DISPLAY_TEXT, ORIGIN_KEY, ORIGIN_RE
from bot.domain.societies import METADATA_KEY, SOCIETY_SLOT
from bot.settings import DEFAULT_MAX_MESSAGE_CHARS, ChannelSettings

logger = logging.getLogger(__name__)

# a request carrying one message (REST body, widget socket.io packet). Large enough
# that a message far over the length limit (40,000 characters even as JSON \\u
# escapes) still arrives and gets the polite "too long" answer; small enough to read
# and parse in a millisecond or two. Larger bodies are refused unread (413).
MAX_BODY_BYTES = 256 * 1024

METADATA_KEYS = (METADATA_KEY, DISPLAY_TEXT_KEY)
_SOCIETY = re.compile(r"[A-Za-z0-9_-]{1,64}")

# intent -> the entities it may carry: what our buttons and channels send
# (domain.yml's yes/no buttons, actions/clarify.py's FAQ topics, the widget's
# and LINE's /greet); the channels add the society (entity ``society``) to every payload.
# The clarification's other topics are added from data/topic_labels.yml.
MEMBER_PAYLOADS: Mapping[str, FrozenSet[str]] = {
    "greet": frozenset(),
    "affirm": frozenset(),
    "deny": frozenset(),
    "choose_topic": frozenset({"topic"}),
}
MAX_ENTITY_VALUE = 100
_INTENT = re.compile(r"[A-Za-z_]+")
_PAYLOAD = re.compile(r"/([A-Za-z_]+)(\{.*\})?", re.DOTALL)

TOO_LONG = (
    "メッセージが長すぎます（{limit:,}文字まで）。\n"
    "お手数ですが、短く分けてお送りください。"
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


OnBounded = Callable[[UserMessage], Awaitable[Any]]


class BoundedOnNewMessage(Protocol):
    """What :func:`bound_inputs` returns: a message, the origin the channel recorded for it,
    the channel's society (written into payloads), and what to do with the bounded
    message before the bot has it (the widget's echo to the session's other tabs)."""

    def __call__(
        self,
        message: UserMessage,
        origin: Optional[str] = None,
        society: Optional[str] = None,
        on_bounded: Optional[OnBounded] = None,
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class InputBounds:
    """The limits of one member message."""

    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    # intent -> entities: the payloads a member's message may be (see member_payload)
    payloads: Mapping[str, FrozenSet[str]] = field(default_factory=lambda: dict(MEMBER_PAYLOADS))

    @classmethod
    def from_env(
        cls,
        environ: Optional[Mapping[str, str]] = None,
        topic_labels: Optional[Mapping[str, str]] = None,
    ) -> "InputBounds":
        """``KOSMO_MAX_MESSAGE_CHARS`` if set (a positive whole number), else the default;
        the payloads of our buttons, the clarification's topics (``bot.domain.topics``) included."""
        settings = ChannelSettings.from_env(environ)
        if topic_labels is None:
            from bot.domain.topics import load_topic_labels

            topic_labels = load_topic_labels()
        return cls(
            max_message_chars=settings.max_message_chars,
            payloads=member_payloads(topic_labels),
        )

    def too_long(self, text: str) -> bool:
        return len(text) > self.max_message_chars

    def too_long_answer(self) -> str:
        return TOO_LONG.format(limit=self.max_message_chars)


def member_payloads(topic_labels: Mapping[str, str]) -> Dict[str, FrozenSet[str]]:
    """:data:`MEMBER_PAYLOADS` and the intents the clarification offers as buttons (``/account_locked``).

    The clarification (``actions/clarify.py``) sends FAQ topics as
    ``/choose_topic{"topic": ...}`` and any other labelled topic as its intent.
    """
    payloads = dict(MEMBER_PAYLOADS)
    for key in topic_labels:
        if _INTENT.fullmatch(key) and key not in payloads:
            payloads[key] = frozenset()
    return payloads


def bounded_metadata(raw: Any) -> Dict[str, str]:
    """The metadata keys the bot uses, as short strings; everything else is dropped.

    ``tenant`` (the society) must look like a society key; ``display_text`` is cut to
    ``MAX_DISPLAY_TEXT`` characters (whether it is kept at all depends on the
    message: see :func:`bounded_message`).
    """
    if not isinstance(raw, Mapping):
        return {}
    out: Dict[str, str] = {}
    society = raw.get(METADATA_KEY)
    if isinstance(society, str) and _SOCIETY.fullmatch(society.strip()):
        out[METADATA_KEY] = society.strip()
    display = raw.get(DISPLAY_TEXT_KEY)
    if isinstance(display, str) and display.strip():
        out[DISPLAY_TEXT_KEY] = display.strip()[:MAX_DISPLAY_TEXT]
    return out


def member_payload(text: str, payloads: Mapping[str, FrozenSet[str]] = MEMBER_PAYLOADS) -> Optional[str]:
    """The intent of ``text`` if it is a payload our buttons or channels send, else None.

    Rasa reads any text starting with ``/`` (after white space) as an intent
    payload; only ``/intent`` or ``/intent{...}`` with an intent of
    ``payloads`` (default :data:`MEMBER_PAYLOADS`), its own entities (plus the society) as short
    strings, and nothing after them, is one of ours.
    """
    match = _PAYLOAD.fullmatch(text.strip())
    if match is None:
        return None
    intent, entities = match.group(1), match.group(2)
    allowed = payloads.get(intent)
    if allowed is None:
        return None
    if entities:
        try:
            values = json.loads(entities)
        except ValueError:
            return None
        if not isinstance(values, dict) or not set(values) <= allowed | {SOCIETY_SLOT}:
            return None
        if not all(isinstance(v, str) and len(v) <= MAX_ENTITY_VALUE for v in values.values()):
            return None
    return intent


def as_plain_text(text: str) -> str:
    """A typed ``/...`` that is not ours, as text the NLU reads: ``／`` instead of ``/``.

    The channels write the society into every ``/`` message's entities
    (``bot.channels.with_society_entity``); that addition is taken out again, so
    the text is what the member typed.
    """
    stripped = text.strip()
    head, brace, rest = stripped.partition("{")
    if brace:
        try:
            entities = json.loads(brace + rest)
        except ValueError:
            entities = None
        if isinstance(entities, dict) and SOCIETY_SLOT in entities:
            entities.pop(SOCIETY_SLOT)
            stripped = head + (json.dumps(entities, ensure_ascii=False) if entities else "")
    return "／" + stripped[1:]


def own_society_payload(payload: str, society: Optional[str]) -> str:
    """One of our payloads (``member_payload`` accepted it) with the channel's society only.

    A ``society`` entity in the payload is dropped, whoever wrote it: only ``society``,
    the society of the channel the message came in on, is written in
    (``with_society_entity``); without one the payload names no society at all.
    """
    stripped = payload.strip()
    head, brace, rest = stripped.partition("{")
    if brace:
        entities = json.loads(brace + rest)  # member_payload parsed it already
        entities.pop(SOCIETY_SLOT, None)
        stripped = head + (json.dumps(entities, ensure_ascii=False) if entities else "")
    return with_society_entity(stripped, society) if society is not None else stripped


def bounded_message(
    message: UserMessage,
    payloads: Mapping[str, FrozenSet[str]] = MEMBER_PAYLOADS,
    origin: Optional[str] = None,
    society: Optional[str] = None,
) -> None:
    """``message`` with its metadata bounded and a payload not ours turned into plain text (in place).

    ``origin`` (``bot.channels.origin``) is what the channel itself recorded about the
    sender; it is added after the filter, so only the channel's value is ever kept.

    Whether the text is a payload is decided here, for every channel, the way Rasa
    decides it: on the text stripped of white space (``str.strip``, Unicode spaces
    included). A payload of ours is passed on stripped, with ``society`` (the
    society of the channel, if it knows one) as its only ``society`` entity
    (:func:`own_society_payload`), so a member can never name another society.
    """
    text = message.text or ""
    metadata = bounded_metadata(message.metadata)
    stripped = text.strip()
    if stripped.startswith("/"):
        if member_payload(stripped, payloads) is None:
            logger.info("a typed /... that is not one of our payloads is read as text")
            text = as_plain_text(stripped)
        else:
            key = society.strip() if isinstance(society, str) else None
            text = own_society_payload(stripped, key if key and _SOCIETY.fullmatch(key) else None)
    if not text.strip().startswith("/"):
        metadata.pop(DISPLAY_TEXT_KEY, None)  # a button's title, never on free text
    if origin is not None and ORIGIN_RE.fullmatch(origin):
        metadata[ORIGIN_KEY] = origin
    message.text = text
    message.metadata = metadata


def bound_inputs(
    on_new_message: OnNewMessage, bounds: Optional[InputBounds] = None
) -> BoundedOnNewMessage:
    """``on_new_message`` for bounded messages only; a too long one gets :data:`TOO_LONG` directly.

    The channel hands in the message, the origin it recorded for it and its society
    (see :func:`bounded_message`); ``on_bounded`` is awaited with the bounded message
    (bounded once) before the bot gets it, never for a message refused as too long.
    """
    limits = bounds or InputBounds()

    async def bounded(
        message: UserMessage,
        origin: Optional[str] = None,
        society: Optional[str] = None,
        on_bounded: Optional[OnBounded] = None,
    ) -> Any:
        text = message.text or ""
        if limits.too_long(text):
            logger.info(
                "a message of %d characters from %s refused (limit %d)",
                len(text), message.sender_id, limits.max_message_chars,
            )
            await message.output_channel.send_response(
                message.sender_id or "", {"text": limits.too_long_answer()}
            )
            return None
        bounded_message(message, limits.payloads, origin, society)
        if on_bounded is not None:
            await on_bounded(message)
        return await on_new_message(message)

    return bounded
