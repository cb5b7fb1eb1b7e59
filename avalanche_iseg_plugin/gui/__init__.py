"""The plugin's thin Qt shell: plugin entry, dock, map tool, overlay, worker transport, controller."""
