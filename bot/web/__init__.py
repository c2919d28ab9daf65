"""Web service: demo portal pages with the chat widget (``python -m bot.web serve``)."""
