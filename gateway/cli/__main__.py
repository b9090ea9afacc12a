"""``python -m gateway.cli`` runs the command line, like ``python -m gateway``."""

import sys

from gateway.cli import main

sys.exit(main())
