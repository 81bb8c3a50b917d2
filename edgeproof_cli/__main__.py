"""`python -m edgeproof_cli` is the same as the `edgeproof` command."""

import sys

from edgeproof_cli import main

sys.exit(main())
