"""RITM-style interactive segmentation model and predictor (torch + numpy + opencv only; no Qt, no QGIS)."""
