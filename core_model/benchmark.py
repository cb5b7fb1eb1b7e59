"""`python -m core_model.benchmark` keeps working: the command lives in core_model.cli.benchmark."""
from core_model.cli.benchmark import *  # noqa: F401,F403 - its public names, as before the move
from core_model.cli.benchmark import cli, main  # noqa: F401

if __name__ == "__main__":
    cli()
