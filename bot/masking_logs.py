"""Member text masked in every log record and warning of a process (:func:`install_log_masking`).

Both servers call :func:`install_log_masking` at their entry points
(``bot.serve``, ``bot.action_server``); a record is masked with
:func:`bot.domain.masking.mask_log_text`, after a quick check that most of the
servers' own lines pass untouched (:func:`bot.domain.masking.log_text_may_be_sensitive`).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Optional, TextIO

from bot.domain.masking import _prepared, log_text_may_be_sensitive, mask_log_text

_MASKED_MARK = "_kosmo_masked"


class MaskingFilter(logging.Filter):
    """Masks member text in every record it sees (message, arguments, exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Replace the record's message (merged with its arguments) and exception text by masked copies.

    A record whose message cannot hold anything sensitive (:func:`log_text_may_be_sensitive`,
    the text shown as it is) and that carries no exception or stack is left as it
    is, message and arguments: most of the servers' lines are judged by three searches.
    """
    if getattr(record, _MASKED_MARK, False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a malformed call: keep what can be kept, without its arguments
        message = str(record.msg)
    else:
        if not (record.exc_info or record.exc_text or record.stack_info):
            shown, folded = _prepared(message, log=True)
            if shown == message and not log_text_may_be_sensitive(folded):
                setattr(record, _MASKED_MARK, True)
                return record
    record.msg = mask_log_text(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = mask_log_text(record.stack_info)
    setattr(record, _MASKED_MARK, True)
    return record


def install_log_masking() -> bool:
    """Mask member text in every log record and warning of this process; call it at the entry point.

    Rasa configures its handlers after our entry point runs (and again per
    command), so a filter on today's handlers would be lost: the record
    factory runs for every record of every logger instead (only for records
    that pass their logger's level). Python warnings are written by
    ``warnings.showwarning`` (Rasa reports a malformed ``/intent{...}``
    payload, with the member's text, as a warning): their message is masked
    before it is shown. Returns False when already installed.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, _MASKED_MARK, False):
        return False

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(current(*args, **kwargs))

    setattr(factory, _MASKED_MARK, True)
    factory.original = current  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)

    show = warnings.showwarning

    def showwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Optional[TextIO] = None,
        line: Optional[str] = None,
    ) -> None:
        show(mask_log_text(str(message)), category, filename, lineno, file, line)

    setattr(showwarning, _MASKED_MARK, True)
    showwarning.original = show  # type: ignore[attr-defined]
    warnings.showwarning = showwarning
    return True


def uninstall_log_masking() -> None:
    """Undo :func:`install_log_masking` (for tests)."""
    current = logging.getLogRecordFactory()
    if getattr(current, _MASKED_MARK, False):
        logging.setLogRecordFactory(current.original)  # type: ignore[attr-defined]
    if getattr(warnings.showwarning, _MASKED_MARK, False):
        warnings.showwarning = warnings.showwarning.original  # type: ignore[attr-defined]
