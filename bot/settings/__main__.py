"""``python -m bot.settings``: the settings this environment gives, or what is wrong with it."""

from bot.settings import main

raise SystemExit(main())
