"""`python -m core_model.predict` keeps working: the command lives in core_model.cli.predict."""
from core_model.cli.predict import *  # noqa: F401,F403 - its public names, as before the move
from core_model.cli.predict import cli, main  # noqa: F401

if __name__ == "__main__":
    cli()
