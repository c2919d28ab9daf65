"""The handoff packet: what a helpdesk agent reads first when the bot hands a member over.

An agent who takes a conversation should not have to ask again what the
member already told the bot, nor offer what the bot already did. The packet
sums up the current session in a few lines: the member's topic and how far
they got in the first login, the on-screen errors they quoted, what the bot
already tried (answers, the unlock ticket, the OTP resend ...), the ticket
numbers, and the transcript.

It is built from the tracker's events as dicts (``Event.as_dict()``, the form
rasa_sdk's ``tracker.events`` holds) by one pure function, :func:`build_packet`.
The events go through the tracker store's masking first
(:func:`bot.domain.masking_events.mask_event_dicts`, the same function the tracker store
uses, without Rasa): birth dates, codes, passwords, insurance symbols/numbers
and phone numbers reach the agent as ``****``, exactly as in the database.

Topic names come from ``data/topic_labels.yml`` (:func:`bot.domain.topics.load_topic_labels`),
the first-login steps from ``data/first_login_steps.yml`` (:func:`load_first_login_steps`);
both are handed in, so the builder reads no file itself.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import yaml

from bot.domain.masking import MASK
from bot.domain.masking_events import mask_event_dicts
from bot.domain.messages import shown_text
from bot.domain.normalize import find_ticket_id, parse_ticket_id
from bot.domain.topics import topic_of_parse
from bot.settings import DataFiles

MAX_ERRORS = 5
MAX_ERROR_CHARS = 300
# Asking for a person is why there is a packet, not what the member needs help with.
NOT_TOPICS = frozenset({"request_human"})
SLOT_TICKET_ID = "ticket_id"
CHOOSE_TOPIC_INTENT = "choose_topic"
# Rasa's prefix for intents the server triggers itself (EXTERNAL_handoff_taken ...)
EXTERNAL_TEXT_PREFIX = "EXTERNAL: "
EXTERNAL_INTENT_PREFIX = "EXTERNAL_"

# Why the bot offered a person (actions/forms_common.py REASON_*).
REASON_LABELS = {
    "member_asked": "ご本人が担当者を希望",
    "not_understood": "ボットが2回続けて理解できなかった",
    "portal_down": "ポータルに接続できなかった",
    "validation_failed": "入力の確認に2回失敗",
}

# Custom actions and forms that did something for the member (names as in domain.yml).
ACTION_LABELS = {
    "action_otp_help": "ワンタイムパスワードの手続き（メールの再送信／認証アプリのコードの診断）",
    "action_send_user_id_reminder": "ユーザーIDのお知らせメールの送信",
    "action_open_unlock_ticket": "ロック解除の申請",
    "action_ticket_status": "ロック解除の申請の状況確認",
    "unlock_form": "ロック解除の申請のための入力（ユーザーID・生年月日）",
    "otp_help_form": "ワンタイムパスワードの手続きのための入力（ユーザーIDなど）",
    "user_id_reminder_form": "ユーザーIDのお知らせのための入力（メールアドレス）",
    "ticket_status_form": "受付番号の入力",
}

CLARIFY_LABEL = "確認の質問"
# Bot responses that are not the answer to a labelled topic but tell the agent what happened.
RESPONSE_LABELS = {
    "utter_clarify": CLARIFY_LABEL,
    "utter_ask_rephrase": "言い換えのお願い",
    "utter_give_up": "理解できなかったことのお詫びと、ボットでできることの案内",
    "utter_never_share_password": "パスワードを送らないようにとの注意",
    "utter_portal_unavailable": "ポータルにつながらず、手続きできなかったことのお知らせ",
    "utter_portal_rate_limited": "手続きが重なり受け付けられなかったことのお知らせ",
    "utter_otp_resent": "ワンタイムパスワードの再送信（完了）",
    "utter_totp_match": "認証アプリのコードの診断：正しいコード",
    "utter_totp_previous_code": "認証アプリのコードの診断：ひとつ前のコード",
    "utter_totp_clock_wrong": "認証アプリのコードの診断：スマホの時計のずれ",
    "utter_totp_no_match": "認証アプリのコードの診断：一致せず",
    "utter_user_id_reminder_sent": "ユーザーIDのお知らせメールの送信（完了）",
    "utter_unlock_ticket_opened": "ロック解除の申請の受付（完了）",
    "utter_ticket_open": "申請の状況のお知らせ：確認中",
    "utter_ticket_unlocked": "申請の状況のお知らせ：解除済み",
    "utter_ticket_rejected": "申請の状況のお知らせ：本人確認できず",
    "utter_ticket_not_found": "申請の状況のお知らせ：受付番号が見つからない",
}
ANSWER_SUFFIX = "の説明"

# A member quoting or describing what the screen says. A quote neither holds
# its own opening mark nor runs on for ever, so a search costs a constant per
# position: 「[^」]+」 tried every 「 of 「「「… against the rest of the text
# (100,000 of them took 5 s, tests/test_regex_cost.py).
MAX_QUOTE = 200
_QUOTED_RE = re.compile(
    rf"「[^「」]{{1,{MAX_QUOTE}}}」|『[^『』]{{1,{MAX_QUOTE}}}』"
    rf"|\"[^\"]{{1,{MAX_QUOTE}}}\"|“[^“”]{{1,{MAX_QUOTE}}}”"
)
_ERROR_WORDS_RE = re.compile(
    r"エラー|表示|無効|正しくありません|一致しません|ロック|失敗|期限切れ|有効期限"
    r"|invalid|error|failed|locked|expired",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FirstLoginStep:
    key: str
    label: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class FirstLoginSteps:
    """The first-login steps in order; each knows the topics that show a member is there."""

    steps: tuple[FirstLoginStep, ...]

    def number_of(self, topic: str) -> Optional[int]:
        """The 1-based number of the step ``topic`` belongs to, or None."""
        for number, step in enumerate(self.steps, start=1):
            if topic in step.topics:
                return number
        return None

    @property
    def topics(self) -> frozenset[str]:
        return frozenset(t for step in self.steps for t in step.topics)


def load_first_login_steps(path: Optional[str | os.PathLike[str]] = None) -> FirstLoginSteps:
    """``path``, else ``$KOSMO_FIRST_LOGIN_STEPS_FILE``, else ``data/first_login_steps.yml``."""
    file = Path(path or DataFiles.from_env().first_login_steps_file)
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    return FirstLoginSteps(
        tuple(
            FirstLoginStep(
                key=str(step["key"]),
                label=str(step["label"]),
                topics=tuple(str(t) for t in step.get("topics") or ()),
            )
            for step in data.get("steps") or ()
        )
    )


def build_packet(
    events: Sequence[Mapping[str, Any]],
    *,
    society: str,
    society_name: str,
    channel: str,
    reason: str,
    labels: Mapping[str, str],
    steps: FirstLoginSteps,
    now: dt.datetime,
) -> dict[str, Any]:
    """The JSON-serialisable packet for the agent, from the current session's events."""
    session = mask_event_dicts(current_session(events))
    members = [e for e in session if _is_member_message(e)]
    topics = _distinct(t for t in (topic_of(e, labels) for e in members) if t)
    return {
        "society": society,
        "society_name": society_name,
        "channel": channel,
        "reason": reason,
        "reason_label": REASON_LABELS.get(reason, reason),
        "topic": _topic(topics[-1], labels) if topics else None,
        "topics": [_topic(t, labels) for t in topics],
        "progress": progress_of(topics, steps),
        "errors_mentioned": errors_mentioned(members),
        "bot_tried": bot_tried(session, labels),
        "ticket_ids": ticket_ids(session),
        "transcript": transcript(session, labels),
        "created_at": now.isoformat(),
    }


def current_session(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events after the last ``session_started`` or ``restart`` (all of them if neither)."""
    events = list(events)
    for index in range(len(events) - 1, -1, -1):
        if events[index].get("event") in ("session_started", "restart"):
            return events[index + 1 :]
    return events


def topic_of(event: Mapping[str, Any], labels: Mapping[str, str]) -> Optional[str]:
    """The labelled topic of a user event: its intent, the FAQ it was answered with, or a button's topic."""
    parse = event.get("parse_data") or {}
    key = topic_of_parse(parse)
    if key == CHOOSE_TOPIC_INTENT:
        key = next(
            (e.get("value") for e in parse.get("entities") or [] if e.get("entity") == "topic"),
            None,
        )
    if not isinstance(key, str) or key in NOT_TOPICS:
        return None
    return key if key in labels else None


def progress_of(topics: Sequence[str], steps: FirstLoginSteps) -> Optional[dict[str, Any]]:
    """The furthest first-login step among the member's topics, or None."""
    numbers = [n for n in (steps.number_of(t) for t in topics) if n is not None]
    if not numbers:
        return None
    furthest = max(numbers)
    return {"step": furthest, "of": len(steps.steps), "label": steps.steps[furthest - 1].label}


def errors_mentioned(members: Iterable[Mapping[str, Any]]) -> list[str]:
    """The member's (masked) messages that quote or describe an on-screen error, the last few.

    Each is cut to ``MAX_ERROR_CHARS`` characters (the transcript has the whole text).
    """
    found = [
        text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "…"
        for text in (_text(e) for e in members)
        if text != MASK
        and not text.startswith("/")
        and (_QUOTED_RE.search(text) or _ERROR_WORDS_RE.search(text))
    ]
    return found[-MAX_ERRORS:]


def bot_tried(session: Iterable[Mapping[str, Any]], labels: Mapping[str, str]) -> list[str]:
    """What the bot already did, in the member's words for the agent: actions run, answers given."""
    tried: list[str] = []
    for event in session:
        kind = event.get("event")
        line: Optional[str] = None
        if kind == "action":
            line = ACTION_LABELS.get(str(event.get("name")))
        elif kind == "bot":
            line = _response_label(event, labels)
        if line:
            tried.append(line)
    return _distinct(tried)


def ticket_ids(session: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every unlock ticket number in the texts and the ``ticket_id`` slot, first seen first.

    Bot texts count only when an action composed them ("受付番号は UL-7F3K9Q です"):
    the domain's responses hold nothing but the example number (utter_ask_ticket_id).
    """
    found: list[Optional[str]] = []
    for event in session:
        kind = event.get("event")
        if kind == "user" or (kind == "bot" and not _response_name(event)):
            found.append(find_ticket_id(_text(event)))
        elif kind == "slot" and event.get("name") == SLOT_TICKET_ID:
            value = event.get("value")
            found.append(parse_ticket_id(value) if isinstance(value, str) else None)
    return _distinct(t for t in found if t)


def transcript(
    session: Iterable[Mapping[str, Any]], labels: Mapping[str, str]
) -> list[dict[str, Optional[str]]]:
    """Member and bot messages as the agent reads them; a clicked topic button shows its label."""
    lines: list[dict[str, Optional[str]]] = []
    for event in session:
        text = _text(event)
        if _is_member_message(event):
            author = "member"
            shown = _member_saw(event, text, labels)
            if shown is None:
                continue  # a hidden payload, such as the widget's opening /greet
            text = shown
        elif event.get("event") == "bot" and text:
            author = "bot"
        else:
            continue
        lines.append({"author": author, "text": text, "at": _iso(event.get("timestamp"))})
    return lines


# button payloads the member pressed, as the agent should read them
_PAYLOAD_WORDS = {"affirm": "はい", "deny": "いいえ", "stop": "やめる"}


def _member_saw(event: Mapping[str, Any], text: str, labels: Mapping[str, str]) -> Optional[str]:
    """The member's message as they saw it: a button's title, not its payload; None if hidden."""
    shown = shown_text(text, event.get("metadata"))
    if shown is not None:
        return shown
    # a payload without a title: a topic button, or yes / no from a LINE postback
    topic = topic_of(event, labels)
    if topic:
        return f"（ボタン）{labels[topic]}"
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    word = _PAYLOAD_WORDS.get(str(intent or text[1:].split("{")[0]))
    return f"（ボタン）{word}" if word else None


def _is_member_message(event: Mapping[str, Any]) -> bool:
    """A user event the member sent (not one the Rasa server triggered itself)."""
    if event.get("event") != "user":
        return False
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
    return not (
        _text(event).startswith(EXTERNAL_TEXT_PREFIX)
        or str(intent).startswith(EXTERNAL_INTENT_PREFIX)
    )


def _response_name(event: Mapping[str, Any]) -> str:
    """The domain response a bot event came from (``utter_...``), "" for an action's own text."""
    return str((event.get("metadata") or {}).get("utter_action") or "")


def _response_label(event: Mapping[str, Any], labels: Mapping[str, str]) -> Optional[str]:
    response = _response_name(event)
    if response == "utter_clarify":
        buttons = (event.get("data") or {}).get("buttons") or []
        titles = [str(b.get("title")) for b in buttons if b.get("payload") != "/deny"]
        if titles:
            return f"{CLARIFY_LABEL}（候補：{'／'.join(titles)}）"
    if response in RESPONSE_LABELS:
        return RESPONSE_LABELS[response]
    topic = response.removeprefix("utter_")
    if response.startswith("utter_") and topic in labels:
        return labels[topic] + ANSWER_SUFFIX
    return None


def _topic(key: str, labels: Mapping[str, str]) -> dict[str, str]:
    return {"key": key, "label": labels[key]}


def _text(event: Mapping[str, Any]) -> str:
    text = event.get("text")
    return text if isinstance(text, str) else ""


def _iso(timestamp: Any) -> Optional[str]:
    if not isinstance(timestamp, (int, float)):
        return None
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).isoformat()


def _distinct(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
