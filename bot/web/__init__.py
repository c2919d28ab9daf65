"""Web service: the chat widget's files that portals embed (``python -m bot.web serve``).

The demo portal pages that show the widget are a development tool: ``dev/demo/``.
"""
