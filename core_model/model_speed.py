"""`python -m core_model.model_speed` keeps working: the command lives in core_model.cli.model_speed."""
import sys

from core_model.cli.model_speed import *  # noqa: F401,F403 - its public names, as before the move
from core_model.cli.model_speed import main, measure  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
