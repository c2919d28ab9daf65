"""The reference KOSMO Web portal: member login and the helpdesk API the bot calls.

Operators point the bot at their real portal; developers, tests and demos run
this one (``python -m dev.portal serve --dev``). Importing this package does no
I/O: the app is built by :func:`dev.portal.app.create_app` from settings, a
clock and a mailer that the caller hands in.
"""
