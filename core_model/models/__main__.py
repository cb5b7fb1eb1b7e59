"""python -m core_model.models list|download|import|remove|verify (see core_model.models.cli)."""
from .cli import cli

cli()
