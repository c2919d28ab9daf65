"""The member's language and the English texts of ``data/responses_en.yml``.

The bot speaks Japanese. A member who writes English (``bot.nlu.language_detector``
sets the slot ``language`` to ``en``) gets the English text of a response when
``data/responses_en.yml`` has one, else :data:`ENGLISH_SCOPE_RESPONSE` (what
the bot can answer in English, and the offer of a person). ``bot.nlg`` makes
that choice; the clarification buttons (``actions/clarify.py``) read the slot
for their labels.

``responses_en.yml`` has, under ``responses_en:``, the shape of the ``responses:`` of ``domain.yml``
(``text``, ``buttons``, ``condition`` on slots such as ``otp_method``) and uses
the society's facts as ``{variables}``; English names of facts end in ``_en``
(``bot.domain.societies.Society.english_variables``). The key is not ``responses``:
Rasa would read the file as training data and put the English texts into the
domain in place of the Japanese ones. Nothing is read at import.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

from bot.settings import PROJECT_ROOT, DataFiles

LANGUAGE_SLOT = "language"
LANGUAGE_ENTITY = "language"
ENGLISH = "en"
JAPANESE = "ja"

ENGLISH_SCOPE_RESPONSE = "utter_english_scope"
RESPONSES_EN_KEY = "responses_en"
# our own data file, but a file handed in by an operator is read only this far
MAX_RESPONSES_FILE_BYTES = 1_000_000


class EnglishResponsesError(ValueError):
    """``responses_en.yml`` is missing, too large or not shaped like domain responses."""


def is_english(slots: Mapping[str, Any]) -> bool:
    """Whether the conversation is in English (no value, or ``ja``: Japanese)."""
    return slots.get(LANGUAGE_SLOT) == ENGLISH


def load_english_responses(
    path: Optional[str | os.PathLike[str]] = None,
) -> Dict[str, List[Dict[str, Any]]]:
    """English variations per response name: ``path``, else ``$KOSMO_RESPONSES_EN_FILE``, else the data file."""
    file = Path(path or DataFiles.from_env().responses_en_file)
    if not file.is_absolute() and not file.exists():
        file = PROJECT_ROOT / file
    try:
        if file.stat().st_size > MAX_RESPONSES_FILE_BYTES:
            raise EnglishResponsesError(f"{file}: larger than {MAX_RESPONSES_FILE_BYTES} bytes")
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as e:
        raise EnglishResponsesError(f"English responses not found: {file}") from e
    except yaml.YAMLError as e:
        raise EnglishResponsesError(f"{file} is not valid YAML: {e}") from e
    return parse_english_responses(data, str(file))


def parse_english_responses(data: Any, where: str) -> Dict[str, List[Dict[str, Any]]]:
    """Check the shape (name -> list of variations with a text) and return the responses."""
    responses = data.get(RESPONSES_EN_KEY) if isinstance(data, Mapping) else None
    if not isinstance(responses, Mapping):
        raise EnglishResponsesError(f"{where}: expected a mapping '{RESPONSES_EN_KEY}'")
    out: Dict[str, List[Dict[str, Any]]] = {}
    for name, variations in responses.items():
        if not isinstance(variations, list) or not variations:
            raise EnglishResponsesError(f"{where}: {name}: expected a list of variations")
        for variation in variations:
            if not isinstance(variation, Mapping) or not isinstance(variation.get("text"), str):
                raise EnglishResponsesError(f"{where}: {name}: every variation needs a text")
        out[str(name)] = [dict(v) for v in variations]
    if ENGLISH_SCOPE_RESPONSE not in out:
        raise EnglishResponsesError(f"{where}: {ENGLISH_SCOPE_RESPONSE} is required (the fallback)")
    return out
