"""``python -m bot.portal ...``: see :mod:`bot.portal.cli`."""

import sys

from bot.portal.cli import main

sys.exit(main())
