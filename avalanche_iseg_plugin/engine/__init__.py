"""The plugin's pure part: numpy, GDAL/OGR and core_model only — never ``qgis``.

Raster windows, stretching, vectorising, click files, the digitising session and everything else that
decides what a click does live here, so that the map tool, the command line and Processing share them
and inference can run in a thread or a child process unchanged.
"""
