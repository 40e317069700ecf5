"""``python -m maildrift``."""

import sys

from maildrift.cli import main

sys.exit(main())
