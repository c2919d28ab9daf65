"""Rasa waits at most ``$KOSMO_ACTION_TIMEOUT`` seconds (default 5) for the action server.

Rasa 3.6 passes the constant ``DEFAULT_REQUEST_TIMEOUT`` (300 s) to every
custom-action call (``RemoteAction.run``) and offers no setting for it
(``EndpointConfig`` keeps a ``timeout`` key in endpoints.yml but never uses
it), so a hung action would hold the member for five minutes. The portal
client's own timeout (3 s) is below this bound: a slow portal becomes an
apology from the action, not a silent timeout. On timeout Rasa logs the error
and the conversation goes on.

Not a speed-up of Rasa's code but a patch of it all the same (the module
constant that ``RemoteAction.run`` reads), so it goes through the registry
(``bot.speedups``) like the others: installed when the server starts, undone
by putting 300 s back, and off with ``KOSMO_RASA_SPEEDUPS=off`` (then Rasa
waits its own five minutes).
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

from bot.speedups.registry import Patch, replace


def action_timeout(environ: Optional[Mapping[str, str]] = None) -> float:
    """``$KOSMO_ACTION_TIMEOUT`` in seconds (``bot.settings``: default 5, at least 1)."""
    from bot.settings import RasaServerSettings

    return RasaServerSettings.from_env(environ).action_timeout


def _targets() -> list:
    from rasa.core.actions.action import RemoteAction

    return [RemoteAction.run]


def install() -> Callable[[], None]:
    """Set the bound from the environment; returns what puts Rasa's constant back."""
    import rasa.core.actions.action as rasa_action

    return replace(rasa_action, "DEFAULT_REQUEST_TIMEOUT", action_timeout())


PATCH = Patch(
    name="action server timeout",
    summary="Rasa waits $KOSMO_ACTION_TIMEOUT s (default 5) for a custom action, not 300",
    targets=_targets,
    sha256="ccabf6f1160d527a157fad5bd285ce69e8221b1bcad23f8a61499b4360a1c17e",
    install=install,
)
