"""``python -m pyg_negdiff``: the ``pyg-negdiff`` command (the same as ``python -m pyg_negdiff.cli``)."""

import sys

from pyg_negdiff.cli import main

sys.exit(main())
