"""What the console shows: labels, times, packet values, and templates that escape.

``render(name, **values)`` fills ``templates/<name>`` (``string.Template``); every
value is HTML-escaped unless it is :class:`Markup`, so member text can never
become markup. The labels are shared with the command line (``bot.handoff.cli``).
"""

from __future__ import annotations

import datetime as dt
import html
import string
from functools import cache
from pathlib import Path
from typing import Any, Mapping, Optional

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
JST = dt.timezone(dt.timedelta(hours=9))

STATUS_LABELS = {
    "queued": "対応待ち",
    "active": "対応中",
    "returned": "ボットに戻した",
    "closed": "終了",
    "left": "会員が退出",
}
CHANNEL_LABELS = {"widget": "ポータルのチャット", "line": "LINE", "rest": "REST API"}
REASON_LABELS = {
    "member_asked": "会員が担当者を希望",
    "not_understood": "ボットが質問を理解できなかった",
    "portal_down": "ポータルの障害・応答なし",
    "validation_failed": "入力を何度も確認できなかった",
}
AUTHOR_LABELS = {"member": "会員", "agent": "担当者", "bot": "ボット", "system": "お知らせ"}


class Markup(str):
    """HTML that is already safe; every other value given to :func:`render` is escaped."""


@cache
def _template(name: str) -> string.Template:
    return string.Template((TEMPLATES_DIR / name).read_text(encoding="utf-8"))


def render(name: str, **values: Any) -> Markup:
    """Fill ``templates/<name>``; values are HTML-escaped unless they are :class:`Markup`."""
    safe = {
        key: value
        if isinstance(value, Markup)
        else html.escape("" if value is None else str(value))
        for key, value in values.items()
    }
    return Markup(_template(name).substitute(safe))


def format_duration(seconds: int) -> str:
    """``192`` → 「3分12秒」; whole hours as 「1時間5分」."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}時間{minutes}分"
    if minutes:
        return f"{minutes}分{secs}秒"
    return f"{secs}秒"


def jst(when: Optional[dt.datetime]) -> str:
    return when.astimezone(JST).strftime("%m/%d %H:%M") if when else ""


def _as_lines(value: Any) -> list[str]:
    """A packet value as display lines, whatever shape the bot side gave it."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value if item not in (None, "")]
    if isinstance(value, Mapping):
        return [f"{key}: {item}" for key, item in value.items()]
    return [str(value)]


def progress_line(progress: Any) -> Any:
    """「2/9 初期パスワードでのログイン」 for the packet's ``{"step", "of", "label"}``."""
    if isinstance(progress, Mapping) and progress.get("label"):
        return f"{progress.get('step')}/{progress.get('of')} {progress['label']}"
    return progress


def lines_html(value: Any) -> Markup:
    lines = _as_lines(value)
    if not lines:
        return Markup('<span class="none">なし</span>')
    if len(lines) == 1:
        return Markup(html.escape(lines[0]))
    return Markup("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>")


def author_label(author: str, agent_name: Optional[str] = None) -> str:
    label = AUTHOR_LABELS.get(author, author)
    return f"{label} {agent_name}" if author == "agent" and agent_name else label
