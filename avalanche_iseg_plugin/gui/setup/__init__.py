"""Setting the plugin up: the dialog that checks and installs its Python dependencies (step 1: ONNX Runtime
and OpenCV; step 2, optional: PyTorch) into the plugin-private folder, the install running as a QgsTask. The
plain-Python part is the dependencies package."""
