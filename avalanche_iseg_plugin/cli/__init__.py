"""Command-line front ends (``python -m avalanche_iseg_plugin.segment`` and friends)."""
