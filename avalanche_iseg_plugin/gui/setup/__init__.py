"""Setting the plugin up: the dialog that checks and installs its Python dependencies (PyTorch, OpenCV) into
the plugin-private folder, the install running as a QgsTask. The plain-Python part is the dependencies package."""
