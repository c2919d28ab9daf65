"""The REST channel, with the society kept on button payloads.

Same URL and body as Rasa's own (``POST /webhooks/rest/webhook`` with
``{"sender", "message", "metadata": {"tenant": ...}}``). For a payload message
(``/choose_topic{"topic": ...}``) Rasa's RegexMessageHandler replaces the
entities the NLU pipeline found, the ``tenant`` one included, so the society is
written into the payload the way the other channels do (``with_tenant_entity``).
While an agent has the conversation, messages go to the agent, not the bot
(``bot.handoff.gate``); the answer is then an empty list. A turn that produced
no answer at all (a failed action) gets an apology (``bot.channels.every_turn``).
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint
from sanic.request import Request

from bot.channels import with_tenant_entity
from bot.channels.every_turn import answer_every_turn
from bot.gc_tuning import freeze_after_start
from bot.handoff.gate import AppHolder, gate_messages
from bot.tenants import TenantRegistry, load_registry


class TenantRestInput(RestInput):
    """Rasa's REST channel; the society in metadata also reaches payload messages."""

    def __init__(self, registry: Optional[TenantRegistry] = None) -> None:
        self._registry = registry

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @property
    def registry(self) -> TenantRegistry:
        if self._registry is None:
            self._registry = load_registry()
        return self._registry

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST blueprint; a conversation an agent has goes to the agent (bot.handoff.gate)."""
        holder = AppHolder()
        gated = gate_messages(answer_every_turn(on_new_message), holder)
        return freeze_after_start(holder.attach(super().blueprint(gated)))

    def _extract_message(self, req: Request) -> Optional[Text]:
        text = super()._extract_message(req)
        metadata = self.get_metadata(req)
        tenant = metadata.get("tenant") if isinstance(metadata, dict) else None
        known = self.registry.get(tenant) if isinstance(tenant, str) and tenant.strip() else None
        if isinstance(text, str) and known is not None:
            return with_tenant_entity(text, known.key)
        return text
