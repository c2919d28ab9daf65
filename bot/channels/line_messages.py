"""The bot's answers as LINE message objects, within LINE's limits.

Markdown links become "label url" (:func:`plain_text`), long texts are cut at
paragraph, line or sentence ends (:func:`split_text`), Rasa buttons become quick
reply items (:func:`quick_reply_items`), and a turn's messages are planned as API
calls of at most five messages each, the quick reply on the very last message
(:func:`plan_calls`). Used by :class:`bot.channels.line_output.LineOutput`.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional

logger = logging.getLogger(__name__)

# LINE's limits (Messaging API reference). Lengths are counted in UTF-16 code units,
# which is never less than LINE's own count, so we stay inside the limit.
MAX_MESSAGES_PER_CALL = 5
MAX_TEXT = 5000
MAX_QUICK_REPLY_ITEMS = 13
MAX_ACTION_LABEL = 20
MAX_POSTBACK_DATA = 300
MAX_DISPLAY_TEXT = 300
MAX_URI = 1000

CHOOSE_PROMPT = "次の中からお選びください。"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """Length (in code points) of the longest prefix of ``text`` within ``limit`` units."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 units, ending with "…" when it was cut."""
    if utf16_len(text) <= limit:
        return text
    return text[: _prefix_within(text, limit - 1)] + "…"


_BREAKS = ("\n\n", "\n", "。", "、", " ")


def split_text(text: str, limit: int = MAX_TEXT) -> List[str]:
    """``text`` as pieces of at most ``limit`` units, cut at paragraph, line or sentence ends."""
    pieces = []
    rest = text.strip()
    while rest:
        if utf16_len(rest) <= limit:
            pieces.append(rest)
            break
        hard = _prefix_within(rest, limit)
        cut = 0
        for mark in _BREAKS:
            at = rest.rfind(mark, 0, hard - len(mark) + 1)
            if at > hard // 2:
                cut = at + len(mark)
                break
        cut = cut or hard
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [p for p in pieces if p]


_MARKDOWN_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def plain_text(text: str) -> str:
    """Bot text as LINE shows it: Markdown links become "label url" (LINE links the URL)."""
    return _MARKDOWN_LINK.sub(lambda m: f"{m.group(1)} {m.group(2)}", text)


def text_messages(text: str) -> List[Dict[str, Any]]:
    return [{"type": "text", "text": piece} for piece in split_text(plain_text(text))]


def quick_reply_items(buttons: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Rasa buttons as LINE quick reply items, within LINE's item and length limits.

    A button's payload (``/intent`` or ``/intent{"slot": "value"}``) becomes postback
    data, so pressing it sends the payload to Rasa; its title is shown as the member's
    message. URL buttons open the URL. Buttons LINE cannot carry are dropped, logged.
    """
    items: List[Dict[str, Any]] = []
    buttons = list(buttons)
    for button in buttons:
        title = str(button.get("title") or "").strip()
        payload = str(button.get("payload") or "").strip()
        url = str(button.get("url") or "").strip()
        if (
            not url
            and button.get("type") == "web_url"
            and payload.startswith(("https://", "http://"))
        ):
            url = payload
        if not title or not (payload or url):
            continue
        label = clip(title, MAX_ACTION_LABEL)
        if url:
            if utf16_len(url) > MAX_URI or not url.startswith(("https://", "http://")):
                logger.warning("LINE: dropping URL button %r: URL unusable in LINE", title)
                continue
            action: Dict[str, Any] = {"type": "uri", "label": label, "uri": url}
        else:
            if utf16_len(payload) > MAX_POSTBACK_DATA:
                logger.warning(
                    "LINE: dropping button %r: payload longer than %d", title, MAX_POSTBACK_DATA
                )
                continue
            action = {
                "type": "postback",
                "label": label,
                "data": payload,
                "displayText": clip(title, MAX_DISPLAY_TEXT),
            }
        items.append({"type": "action", "action": action})
    if len(items) > MAX_QUICK_REPLY_ITEMS:
        logger.warning("LINE: %d buttons, only the first %d fit", len(items), MAX_QUICK_REPLY_ITEMS)
        items = items[:MAX_QUICK_REPLY_ITEMS]
    return items


def _mergeable(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (
        a.get("type") == "text"
        and b.get("type") == "text"
        and set(a) == {"type", "text"}
        and set(b) == {"type", "text"}
        and utf16_len(a["text"]) + 2 + utf16_len(b["text"]) <= MAX_TEXT
    )


def plan_calls(
    messages: List[Dict[str, Any]], quick_reply: Optional[List[Dict[str, Any]]] = None
) -> List[List[Dict[str, Any]]]:
    """A turn's messages as API calls of at most five messages each.

    Adjacent texts are merged (shortest pair first) until the turn fits one call or
    nothing more can merge, so a reply token covers as much as possible. The quick
    reply goes on the very last message: LINE shows it only there.
    """
    msgs = [dict(m) for m in messages]
    while len(msgs) > MAX_MESSAGES_PER_CALL:
        pairs = [
            (utf16_len(msgs[i]["text"]) + utf16_len(msgs[i + 1]["text"]), i)
            for i in range(len(msgs) - 1)
            if _mergeable(msgs[i], msgs[i + 1])
        ]
        if not pairs:
            break
        _, i = min(pairs)
        msgs[i : i + 2] = [{"type": "text", "text": msgs[i]["text"] + "\n\n" + msgs[i + 1]["text"]}]
    if quick_reply:
        if not msgs:
            msgs.append({"type": "text", "text": CHOOSE_PROMPT})
        msgs[-1]["quickReply"] = {"items": quick_reply}
    return [msgs[i : i + MAX_MESSAGES_PER_CALL] for i in range(0, len(msgs), MAX_MESSAGES_PER_CALL)]
