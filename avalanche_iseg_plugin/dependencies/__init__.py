"""The plugin's third-party Python dependencies (PyTorch, OpenCV; QGIS's numpy checked), plain Python, no
QGIS: folder.py (the plugin-private folder in the QGIS profile and the Python QGIS runs on; standard library
only, imported at plugin start), check.py (what is installed and usable), install.py (pip into the private
folder), cli.py (the command line, run by ``__main__.py``):

    python -m avalanche_iseg_plugin.dependencies status|install|uninstall [--target DIR] ...

Nothing is imported here: import the module you need (``from .dependencies.folder import private_dir``)."""
