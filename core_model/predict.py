"""`python -m core_model.predict`: the command lives in core_model.cli.predict."""
from core_model.cli.predict import cli

if __name__ == "__main__":
    cli()
