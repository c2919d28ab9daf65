"""Development tools: stand-ins for what operators have, and the dev stack. Not shipped.

Nothing here is part of the distribution built from ``pyproject.toml`` (its
package find config includes ``bot`` and ``actions`` only, and
``tests/test_distribution.py`` keeps it so), and nothing under ``bot/`` or
``actions/`` imports it. ``dev`` imports ``bot`` (the societies, the portal
contract), never the other way round.

- ``dev/portal/``: the reference KOSMO Web portal, a stand-in for the society's real
  portal API (``python -m dev.portal``), with the dev SMTP server and mail outbox
  (``dev/portal/devsmtp.py``);
- ``dev/demo/``: demo portal pages that embed the chat widget (``python -m dev.demo``);
- ``dev/stack.py``: starts portal, demo pages, action server and Rasa for ``make run``,
  the end-to-end and browser tests and the benchmark.
"""
