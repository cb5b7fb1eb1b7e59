"""The seed's evaluation (RITM's scripts/evaluate_model.py and the avalanche fork's extension), as parts:
`modes` (predictor settings of an evaluation mode), `runs` (one checkpoint × mode × dataset),
`report` (Markdown table, CSV, JSON), `plots` (IoU analysis PNG) and `vis` (per-click pictures).
The command is core_model.cli.evaluate (python -m core_model.evaluate)."""
