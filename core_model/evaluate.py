"""`python -m core_model.evaluate`: the command lives in core_model.cli.evaluate."""
from core_model.cli.evaluate import cli

if __name__ == "__main__":
    cli()
