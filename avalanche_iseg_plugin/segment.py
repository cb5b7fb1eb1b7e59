"""``python -m avalanche_iseg_plugin.segment``: see cli/segment.py."""
import sys

from .cli.segment import main

if __name__ == "__main__":
    sys.exit(main())
