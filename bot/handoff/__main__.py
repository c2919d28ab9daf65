"""``python -m bot.handoff ...``: see :mod:`bot.handoff.cli`."""

import sys

from bot.handoff.cli import main

sys.exit(main())
