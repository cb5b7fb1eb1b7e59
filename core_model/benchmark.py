"""`python -m core_model.benchmark`: the command lives in core_model.cli.benchmark."""
from core_model.cli.benchmark import cli

if __name__ == "__main__":
    cli()
