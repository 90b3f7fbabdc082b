"""``python -m jupyter_think.cli``: the ``jupyter-think`` command."""

import sys

from jupyter_think.cli import main

sys.exit(main())
