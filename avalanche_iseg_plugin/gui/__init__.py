"""The plugin's thin Qt shell: plugin entry and, at this level, the digitiser (dock, map tool, overlay,
controller, target layer, rasters); its wings: webcam/ (the webcam panel), transport/ (commands to the
session server), setup/ (the dependency dialog)."""
