"""``python -m pyg_negdiff.cli``: the ``pyg-negdiff`` command."""

import sys

from pyg_negdiff.cli import main

sys.exit(main())
