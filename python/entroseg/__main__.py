"""``python -m entroseg`` runs the command line."""

import sys

from entroseg.cli import main

sys.exit(main())
