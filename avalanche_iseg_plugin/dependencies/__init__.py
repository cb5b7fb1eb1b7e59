"""The plugin's third-party Python dependencies (ONNX Runtime and OpenCV to digitise, PyTorch optional;
QGIS's numpy checked), plain Python, no QGIS: folder.py (the plugin-private folder in the QGIS profile, its
install stamp, the Python QGIS runs on; standard library only, imported at plugin start), interpreter.py
(which Python that is, by QGIS's layout on Windows, macOS and Linux), check.py (what is installed and
usable), install.py (the two install steps: pip into the private folder), progress.py (pip's output as
packages and megabytes), cli.py (the command line, run by ``__main__.py``):

    python -m avalanche_iseg_plugin.dependencies status|install|uninstall [--target DIR] ...

Nothing is imported here: import the module you need (``from .dependencies.folder import private_dir``)."""
