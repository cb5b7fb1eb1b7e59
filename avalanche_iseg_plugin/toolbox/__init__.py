"""The plugin's Processing provider and algorithms (QGIS's Processing Toolbox)."""
