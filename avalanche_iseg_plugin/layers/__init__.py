"""The plugin's ``qgis.core`` part, without widgets: CRS helpers, settings, the avalanche layer and its
schema, export."""
