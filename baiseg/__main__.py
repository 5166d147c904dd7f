"""``python -m baiseg ...`` (also what ``torchrun -m baiseg train ...`` runs)."""

import sys

from baiseg.cli import main

if __name__ == "__main__":
    sys.exit(main())
