"""Export an avalanche layer to a Shapefile or a GeoPackage (qgis.core)."""
from __future__ import annotations

import os

from qgis.core import QgsField, QgsProject, QgsVectorFileWriter, QgsVectorLayer

from ..engine.avalanche_schema import SHAPEFILE_NAMES
from ..engine.errors import LayerError

EXPORT_DRIVERS = {".shp": "ESRI Shapefile", ".gpkg": "GPKG"}


class _ShapefileNames(QgsVectorFileWriter.FieldValueConverter):
    """Renames fields longer than Shapefile's 10 characters (see SHAPEFILE_NAMES)."""

    def fieldDefinition(self, field):  # noqa: N802 - Qt API name
        out = QgsField(field)
        out.setName(SHAPEFILE_NAMES.get(field.name(), field.name()))
        return out

    def convert(self, index, value):
        return value


def export_layer(layer: QgsVectorLayer, path, transform_context=None, layer_name: str = "avalanches") -> str:
    """Write all features of ``layer`` to ``path``: '.shp' (Shapefile; perimeter_m -> perim_m,
    created_utc -> created; no GeoPackage ``fid`` column) or '.gpkg' (GeoPackage, its layer named
    ``layer_name``).  Overwrites an
    existing file.  Returns the path written.  LayerError for other extensions or unwritable paths."""
    if not isinstance(layer, QgsVectorLayer) or not layer.isValid():
        raise LayerError("Choose a valid vector layer to export.")
    path = os.path.abspath(str(path))
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXPORT_DRIVERS:
        raise LayerError(f"Export writes Shapefile (.shp) or GeoPackage (.gpkg) files, not "
                         f"'{ext or os.path.basename(path)}'; choose a name ending in .shp or .gpkg.")
    source_path = layer.source().split("|")[0]
    if os.path.exists(path) and os.path.exists(source_path) and os.path.samefile(source_path, path):
        raise LayerError(f"The export would overwrite the layer's own file '{path}'; choose another file name.")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise LayerError(f"Cannot write '{path}': the folder '{folder}' does not exist or is not writable.")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = EXPORT_DRIVERS[ext]
    options.fileEncoding = "UTF-8"
    options.layerName = (layer_name or "avalanches").strip() or "avalanches"
    options.actionOnExistingFile = QgsVectorFileWriter.CreateOrOverwriteFile
    converter = None
    if ext == ".shp":
        converter = _ShapefileNames()
        options.fieldValueConverter = converter
        # a GeoPackage's primary key is a field of the layer; a Shapefile has its own record numbers
        pk = set(layer.dataProvider().pkAttributeIndexes()) if layer.providerType() == "ogr" else set()
        options.attributes = [i for i in range(layer.fields().count()) if i not in pk]
    context = transform_context or QgsProject.instance().transformContext()
    error, message, *_ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, path, context, options)
    if error != QgsVectorFileWriter.NoError:
        raise LayerError(f"Could not export '{layer.name()}' to '{path}' ({message.strip() or error}).")
    return path
