"""`python -m core_model.model_speed`: the command lives in core_model.cli.model_speed."""
import sys

from core_model.cli.model_speed import main

if __name__ == "__main__":
    sys.exit(main())
