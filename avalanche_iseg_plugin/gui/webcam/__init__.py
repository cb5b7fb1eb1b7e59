"""The webcam wing of the GUI: the "Webcam camera" panel (photo canvas, DEM, GCP table), picking and marking
ground control points, fitting and saving the camera, and digitising on the photo with its outline projected
onto the terrain (prepared in the background)."""
