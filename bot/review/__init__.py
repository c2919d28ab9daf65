"""What the bot could not handle well, kept for the helpdesk's review.

``broker.py`` (the Rasa event broker that records such messages, masked),
``writer.py`` (its background writer), ``store.py`` (the review table),
``report.py`` and ``__main__.py`` (``python -m bot.review``: grouped lists and an
NLU skeleton for labelling).
"""
