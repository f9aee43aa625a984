"""``python -m pinnlma``: the command line (:mod:`pinnlma.cli`)."""

import sys

from .cli import main

sys.exit(main())
