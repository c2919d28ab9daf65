"""Demo portal pages: each society's page with the chat widget embedded (development only).

``python -m dev.demo serve`` serves the shipped widget service (:mod:`bot.web`: the
widget's files, ``/healthz``, ``/agent``) plus these pages (``/``, ``/demo/<society>``).
"""
