"""``python -m dev.portal ...``: see :mod:`dev.portal.cli`."""

import sys

from dev.portal.cli import main

sys.exit(main())
