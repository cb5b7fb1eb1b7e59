"""``python -m avalanche_iseg_plugin.dependencies``: see cli.py."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
