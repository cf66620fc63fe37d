"""``python -m diarefine.cli``: the same as the ``diarefine`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
