"""`python -m core_model.import_annotations`: the command lives in core_model.cli.import_annotations."""
from core_model.cli.import_annotations import cli, import_annotations, main  # noqa: F401

if __name__ == "__main__":
    cli()
