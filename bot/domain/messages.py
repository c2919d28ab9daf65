"""A member's message as the channels record it, and as the member saw it.

Every channel (``bot.channels``) keeps three keys of a message's metadata and
nothing else: the society (``bot.domain.societies.METADATA_KEY``, on the wire
``tenant``), :data:`DISPLAY_TEXT_KEY`, the title of a pressed button, and
:data:`ORIGIN_KEY`, the channel's own record of who sent it
(``bot.channels.origin``). Whoever reads a stored message takes their names from
here: the channels, the tracker store's masking, the handoff packet and gate, the
actions (which forward the origin to the portal).

What the member saw (:func:`shown_text`) is the one rule for showing a member's
message again: in the widget's transcript, the handoff packet and the handoff gate.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

# a pressed button's title, sent with its payload (``/affirm``)
DISPLAY_TEXT_KEY = "display_text"
MAX_DISPLAY_TEXT = 100
# who sent the message on its channel: ``<channel kind>:<32 hex digits>``, a keyed
# digest the channel adds after the client's metadata was filtered
ORIGIN_KEY = "origin"
ORIGIN_RE = re.compile(r"[a-z]{1,16}:[0-9a-f]{32}")


def shown_text(text: str, metadata: Any) -> Optional[str]:
    """A member's message as the member saw it, or None for a hidden payload.

    A pressed button sends its payload (``/affirm``) with the button's title in
    the metadata key ``display_text``; the title is what the member saw. A
    payload without a title (the widget's opening ``/greet``) was never shown.
    Used by the widget's transcript, the handoff packet and the handoff gate.

    The title counts only on a payload, cut to ``MAX_DISPLAY_TEXT`` characters:
    free text is shown as written, whatever its metadata says (the channels drop
    such a ``display_text`` already, ``bot.channels.input_bounds``; this also
    covers conversations stored before they did).
    """
    payload = text.strip().startswith("/")
    display = metadata.get(DISPLAY_TEXT_KEY) if isinstance(metadata, Mapping) else None
    if payload and isinstance(display, str) and display.strip():
        return display.strip()[:MAX_DISPLAY_TEXT]
    return None if payload else text
