"""`python -m core_model.evaluate` keeps working: the command lives in core_model.cli.evaluate."""
from core_model.cli.evaluate import *  # noqa: F401,F403 - its public names, as before the move
from core_model.cli.evaluate import cli, main  # noqa: F401

if __name__ == "__main__":
    cli()
