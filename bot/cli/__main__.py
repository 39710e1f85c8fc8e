"""`python -m bot.cli …`: the same as the `opsbot` console script."""

import sys

from bot.cli import main

sys.exit(main())
