"""``python -m avalanche_iseg_plugin.webcam``: see cli/webcam.py."""
import sys

from .cli.webcam import main

if __name__ == "__main__":
    sys.exit(main())
