"""Webcam photos onto the map (pure: numpy, scipy, OpenCV, GDAL/OGR; never ``qgis``).

* ``camera``: the pinhole camera (pose, focal length, principal point, radial distortion) and its
  vectorised projection;
* ``dem``: the terrain model (GDAL), bilinear heights, ray-terrain intersection;
* ``gcp_file``: the ground control points' CSV (``col,row,x,y,z``);
* ``camera_fit``: fitting the camera to GCPs (OpenCV PnP start, scipy least squares), residuals,
  leave-one-out ground errors;
* ``camera_file``: the JSON camera file;
* ``terrain_projection``: a photo mask -> visible terrain polygons in the DEM's CRS (depth buffer);
* ``projected_layer``: writing those polygons to a GeoPackage with OGR.

Photo pixel convention, everywhere: continuous (col, row) with (0, 0) the top-left *corner* of the
photo, col to the right, row down; the pixel with indices (i, j) covers [i, i+1) × [j, j+1) and its
centre is (i + 0.5, j + 0.5).  This is QGIS's own convention for a photo without georeference
(x = col, y = -row), so a point picked in QGIS on the photo is a GCP's col/row as it is.
"""
