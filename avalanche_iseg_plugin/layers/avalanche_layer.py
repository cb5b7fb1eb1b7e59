"""The avalanche (polygon) layer: create, open, add finished objects, correct (qgis.core).

The fields of a layer this module creates are the avalanche schema's (``engine.avalanche_schema``);
values are always written by field name.  Any existing polygon layer can be the target too: only the
fields it has are filled.  Measuring: ``layers.measure``; export to Shapefile/GeoPackage:
``layers.export`` (both importable from here too).

Ids are max(id) + 1, made unique against other writers of a GeoPackage after each commit
(``layers.feature_ids``).  Every write goes through the layer's edit buffer (one edit command per object) and is committed at
once, so a crash never loses earlier objects.  If the layer was already in editing mode it stays
so (and the commit also saves the user's other pending edits of that layer).
"""

from __future__ import annotations

import os
import sqlite3
import time

from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry, QgsProject, QgsVectorDataProvider, QgsVectorFileWriter,
                       QgsVectorLayer, QgsWkbTypes, QgsCsException)

from .avalanche_fields import avalanche_fields, field_index, set_attributes
from .crs import crs_from, is_defined, make_transform
from .feature_ids import make_ids_unique, next_id
from .geopackage_files import remove_geopackage, why_writing_failed
from .write_lock import file_lock, one_writer
from .measure import measure
from ..engine.avalanche_schema import (INVENTORY_NAMES, METHOD_CORRECTED, METHOD_INTERACTIVE, object_attributes,
                                       utc_now_iso)
from .attribute_form import set_up_avalanche_layer
from ..engine.errors import LayerError
from ..engine.target_rules import UNITS_PIXELS, finished_units, units_field

DEFAULT_LAYER_NAME = "avalanches"
#: commits retried while another writer holds the GeoPackage's lock (about 10 s in all)
LOCK_RETRIES = 20


# -- opening / creating -----------------------------------------------------------------------------
def _geometry_name(layer: QgsVectorLayer) -> str:
    return {QgsWkbTypes.PointGeometry: "points", QgsWkbTypes.LineGeometry: "lines",
            QgsWkbTypes.NullGeometry: "no geometry (a table)"}.get(layer.geometryType(), "no polygons")


def check_polygon_layer(layer) -> QgsVectorLayer:
    """Return ``layer`` if it is a valid, editable polygon layer; else raise LayerError."""
    if not isinstance(layer, QgsVectorLayer):
        name = layer.name() if hasattr(layer, "name") else str(layer)
        raise LayerError(f"'{name}' is not a vector layer; choose a polygon layer for the avalanches.")
    if not layer.isValid():
        raise LayerError(f"The layer '{layer.name()}' is not valid (its data source cannot be read).")
    if layer.geometryType() != QgsWkbTypes.PolygonGeometry:
        raise LayerError(f"The layer '{layer.name()}' holds {_geometry_name(layer)}, not polygons; "
                         "choose a polygon layer or create a new avalanche GeoPackage.")
    caps = layer.dataProvider().capabilities()
    if not caps & QgsVectorDataProvider.AddFeatures:
        raise LayerError(f"The layer '{layer.name()}' cannot be edited (its data source is read-only); "
                         "choose another layer or create a new avalanche GeoPackage.")
    return layer


def open_avalanche_layer(path, layer_name: str | None = None) -> QgsVectorLayer:
    """Open a polygon layer from a file (GeoPackage, Shapefile, ...); raise LayerError if unusable."""
    path = str(path)
    if not os.path.exists(path):
        raise LayerError(f"The file '{path}' does not exist.")
    uri = f"{path}|layername={layer_name}" if layer_name else path
    name = layer_name or os.path.splitext(os.path.basename(path))[0]
    with file_lock(path, name, "the layer was not opened: try again when it is done."):
        layer = QgsVectorLayer(uri, name, "ogr")
    if layer.isValid() and layer.crs().isValid() and not is_defined(layer.crs()):
        layer.setCrs(QgsCoordinateReferenceSystem())   # pixel units: drawn as they are, never transformed
    if not layer.isValid():
        which = f" has no layer '{layer_name}' or" if layer_name else ""
        raise LayerError(f"The file '{os.path.basename(path)}'{which} cannot be opened as a vector layer.")
    return check_polygon_layer(layer)


def _gpkg_has_layer(path: str, layer_name: str) -> bool:
    from osgeo import ogr

    ds = ogr.Open(path)
    return ds is not None and ds.GetLayerByName(layer_name) is not None


def create_avalanche_layer(path, crs=None, layer_name: str = DEFAULT_LAYER_NAME) -> QgsVectorLayer:
    """Create the avalanche layer in a GeoPackage, or open it if the file already has it.

    ``crs``: QgsCoordinateReferenceSystem, 'EPSG:xxxx', WKT, or None/'' for no CRS (photos, pixel
    units).  Raises LayerError for a path that is not .gpkg or cannot be written."""
    path = os.path.abspath(str(path))
    if os.path.splitext(path)[1].lower() != ".gpkg":
        raise LayerError(f"The avalanche layer must be a GeoPackage: give a file name ending in .gpkg, "
                         f"not '{os.path.basename(path)}'.")
    if os.path.exists(path) and _gpkg_has_layer(path, layer_name):
        return open_avalanche_layer(path, layer_name)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise LayerError(f"Cannot create the GeoPackage '{path}': the folder '{folder}' does not exist; "
                         "choose another location.")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise LayerError(f"Cannot create the GeoPackage '{path}': the location is not writable; "
                         "choose a folder you can write to.")
    new_file = not os.path.exists(path)
    try:
        return _write_new_layer(path, crs, layer_name, new_file)
    except (LayerError, OSError, sqlite3.Error) as exc:
        why = why_writing_failed(path)  # before removing: a full disk has room again afterwards
        if not new_file:
            raise LayerError(f"Cannot add the layer '{layer_name}' to the GeoPackage '{path}'{why}: "
                             f"{str(exc).rstrip('.')}.") from None
        remove_geopackage(path)  # a half-written file would only mislead the next run
        raise LayerError(f"Cannot create the GeoPackage '{path}': writing it failed{why}, "
                         "and nothing was left behind; free some disk space or choose another location.") from None


def _write_new_layer(path: str, crs, layer_name: str, new_file: bool) -> QgsVectorLayer:
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = layer_name
    options.fileEncoding = "UTF-8"
    options.actionOnExistingFile = (QgsVectorFileWriter.CreateOrOverwriteFile if new_file
                                    else QgsVectorFileWriter.CreateOrOverwriteLayer)
    writer = QgsVectorFileWriter.create(path, avalanche_fields(), QgsWkbTypes.MultiPolygon, crs_from(crs),
                                        QgsProject.instance().transformContext(), options)
    if writer.hasError():
        message = writer.errorMessage()
        del writer
        raise LayerError(f"Cannot create the GeoPackage '{path}' ({message.strip()}); choose another location.")
    del writer  # closes the file
    if not crs_from(crs).isValid():
        _mark_undefined_cartesian(path, layer_name)
    # the form and size colours, stored in the file as its default style; saving it leaves that layer
    # object's connection unusable (QGIS 3.22), so the layer returned is opened afresh, with the style
    set_up_avalanche_layer(open_avalanche_layer(path, layer_name))
    return open_avalanche_layer(path, layer_name)


def _mark_undefined_cartesian(path: str, layer_name: str) -> None:
    """A layer without CRS is written with srs_id 0 ("undefined geographic"); pixel coordinates are
    Cartesian: GeoPackage's srs_id -1."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE gpkg_geometry_columns SET srs_id = -1 WHERE table_name = ?", (layer_name,))
        db.execute("UPDATE gpkg_contents SET srs_id = -1 WHERE table_name = ?", (layer_name,))
    db.close()


# -- geometry in the layer's CRS -----------------------------------------------------------------------
def _geometry_in_layer_crs(layer: QgsVectorLayer, polygons_wkt, raster_crs, context) -> QgsGeometry:
    if isinstance(polygons_wkt, str):
        polygons_wkt = [polygons_wkt]
    parts = [QgsGeometry.fromWkt(w) for w in polygons_wkt]
    parts = [g for g in parts if not g.isNull() and not g.isEmpty()]
    if not parts:
        raise LayerError("There is no polygon to write: the avalanche mask is empty.")
    geom = QgsGeometry.collectGeometry(parts)
    raster_crs, layer_crs = crs_from(raster_crs), crs_from(layer.crs())
    if raster_crs.isValid() != layer_crs.isValid():
        if raster_crs.isValid():
            raise LayerError(f"The layer '{layer.name()}' has no coordinate reference system, but the raster has "
                             f"{raster_crs.authid() or 'one'}; choose a georeferenced avalanche layer.")
        raise LayerError(f"The raster has no georeference or no CRS (its coordinates are pixels or local map units), "
                         f"so its polygons cannot go into the layer '{layer.name()}' in {layer_crs.authid() or 'a map CRS'}; "
                         "create a separate avalanche GeoPackage without CRS (or, for a georeferenced raster, set its "
                         "CRS in Layer Properties > Source).")
    return _transformed(geom, raster_crs, layer_crs, context,
                        f"The polygon cannot be transformed from {raster_crs.authid()} to {layer_crs.authid()} of "
                        f"the layer '{layer.name()}'.")


def _transformed(geom: QgsGeometry, src, dst, context, failure: str) -> QgsGeometry:
    """``geom`` transformed in place from ``src`` to ``dst`` (unchanged when no transform is needed);
    LayerError with ``failure`` when a vertex cannot be transformed."""
    transform = make_transform(src, dst, context)
    if transform is not None:
        try:
            geom.transform(transform)
        except QgsCsException as exc:
            raise LayerError(failure) from exc
    return geom


def _fit_to_layer_type(layer: QgsVectorLayer, geom: QgsGeometry) -> list[QgsGeometry]:
    """One geometry for multi-type layers; one per part for single-polygon layers; Z/M added if needed."""
    wkb = layer.wkbType()
    if QgsWkbTypes.isMultiType(wkb):
        geom.convertToMultiType()
        geoms = [geom]
    else:
        geoms = [QgsGeometry(part.clone()) for part in geom.constParts()]
    for g in geoms:
        if QgsWkbTypes.hasZ(wkb) and not g.constGet().is3D():
            g.get().addZValue(0.0)
        if QgsWkbTypes.hasM(wkb) and not g.constGet().isMeasure():
            g.get().addMValue(0.0)
    return geoms


# -- writing ---------------------------------------------------------------------------------------------
class _Edit:
    """startEditing (if needed) + one edit command + commit; rolls back our change on failure."""

    def __init__(self, layer: QgsVectorLayer, title: str):
        self.layer, self.title = layer, title
        self.was_editing = layer.isEditable()
        self.added_ids: list[int] = []

    def __enter__(self):
        if not self.was_editing and not self.layer.startEditing():
            raise LayerError(f"The layer '{self.layer.name()}' cannot be put into editing mode.")
        self.layer.beginEditCommand(self.title)
        self.layer.committedFeaturesAdded.connect(self._on_added)
        return self

    def _on_added(self, _layer_id, features):
        self.added_ids.extend(f.id() for f in features)

    def __exit__(self, exc_type, exc, tb):
        layer = self.layer
        try:
            if exc_type is not None:
                layer.destroyEditCommand()
                if not self.was_editing:
                    layer.rollBack()
                return False
            layer.endEditCommand()
            if not layer.commitChanges(not self.was_editing):
                errors = " ".join(" ".join(e.split()) for e in layer.commitErrors()).rstrip(" ;.")
                if not self.was_editing:
                    layer.rollBack()
                raise LayerError(f"Could not save to the layer '{layer.name()}' ({errors}); the avalanche is "
                                 "still on the map: fix the problem (e.g. a read-only or locked file) and finish again.")
            return False
        finally:
            layer.committedFeaturesAdded.disconnect(self._on_added)


def add_object(layer: QgsVectorLayer, polygons_wkt, raster_crs, attrs: dict | None = None,
               transform_context=None, field_map=None) -> int:
    """Add one finished object (POLYGON WKTs or one MULTIPOLYGON WKT, in ``raster_crs``) to ``layer``.

    ``attrs`` may hold source, n_pos, n_neg, model, threshold, method (default 'interactive') and any
    other field of the layer; id, area_m2, perimeter_m, units and created_utc are computed; ``field_map``
    (engine.target_rules.FieldMapping) also writes avalanche fields into the layer's own fields.  Committed at
    once.  Returns the new feature id (fid).  A single-polygon (not multi) layer gets one feature per
    part, each with its own id; the fid of the largest part is returned."""
    check_polygon_layer(layer)
    with one_writer(layer):
        return _add_object(layer, polygons_wkt, raster_crs, attrs, transform_context, field_map)


def _units(layer: QgsVectorLayer, values: dict) -> str:
    """m in a layer with a CRS; without one, px unless ``values['units']`` (the object's) says map units."""
    return units_field(is_defined(layer.crs()), values.get("units", UNITS_PIXELS) != UNITS_PIXELS)


def _add_object(layer: QgsVectorLayer, polygons_wkt, raster_crs, attrs, transform_context, field_map=None) -> int:
    context = transform_context or QgsProject.instance().transformContext()
    geom = _geometry_in_layer_crs(layer, polygons_wkt, raster_crs, context)
    geoms = _fit_to_layer_type(layer, geom)
    values = {"method": METHOD_INTERACTIVE}
    values.update(attrs or {})
    values["created_utc"] = values.get("created_utc") or utc_now_iso()
    first_id = next_id(layer)
    features = []
    for i, g in enumerate(geoms):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(g)
        area, perimeter = measure(g, crs_from(layer.crs()), context)
        row = {**values, "id": first_id + i, "area_m2": area, "perimeter_m": perimeter, "units": _units(layer, values)}
        set_attributes(feature, field_map.apply(row) if field_map is not None else row)
        features.append(feature)
    largest = max(range(len(geoms)), key=lambda i: geoms[i].area())
    for attempt in range(LOCK_RETRIES + 1):
        try:
            edit = _Edit(layer, "Add avalanche")
            with edit:
                if not layer.addFeatures(features):
                    raise LayerError(f"The layer '{layer.name()}' refused the new avalanche feature.")
            break
        except LayerError as exc:  # another writer holds the GeoPackage's lock: wait and commit again
            text = str(exc).lower()
            if edit.was_editing or attempt == LOCK_RETRIES or not ("locked" in text or "busy" in text):
                raise
            time.sleep(0.05 * (attempt + 1))
    fids = edit.added_ids
    if len(fids) == len(features):
        make_ids_unique(layer, fids)  # another writer may have taken the same ids meanwhile
        return int(fids[largest])
    return _fid_by_id(layer, first_id + largest)


def _fid_by_id(layer: QgsVectorLayer, value: int) -> int:
    from qgis.core import QgsFeatureRequest

    request = QgsFeatureRequest().setFilterExpression(f'"id" = {int(value)}')
    for feature in layer.getFeatures(request):
        return int(feature.id())
    raise LayerError(f"The avalanche was saved but cannot be found again in '{layer.name()}'.")


def add_finished(layer: QgsVectorLayer, finished, extra: dict | None = None, transform_context=None) -> int:
    """``add_object`` for a ``session.FinishedObject`` (source, clicks, model, threshold filled)."""
    attrs = {**object_attributes(finished), "units": finished_units(finished)}
    attrs.update(extra or {})
    return add_object(layer, finished.polygons_wkt, finished.raster_crs_wkt, attrs, transform_context)


def replace_geometry(layer: QgsVectorLayer, fid: int, polygons_wkt, raster_crs, attrs: dict | None = None,
                     transform_context=None, field_map=None) -> None:
    """Replace the geometry of feature ``fid`` (same fid, other attributes kept); area_m2 /
    perimeter_m are recomputed, method set to 'corrected' and corrected_utc stamped where those fields
    exist, plus any ``attrs`` given — except the avalanche record (INVENTORY_NAMES), which correction never
    touches.  Committed at once."""
    check_polygon_layer(layer)
    feature = layer.getFeature(int(fid))
    if not feature.isValid():
        raise LayerError(f"The feature {fid} no longer exists in '{layer.name()}'; select the polygon again.")
    context = transform_context or QgsProject.instance().transformContext()
    geom = _geometry_in_layer_crs(layer, polygons_wkt, raster_crs, context)
    geoms = _fit_to_layer_type(layer, geom)
    if len(geoms) != 1:
        raise LayerError(f"The corrected avalanche has {len(geoms)} separate parts, but the layer "
                         f"'{layer.name()}' holds single polygons; remove the extra parts with negative clicks.")
    area, perimeter = measure(geoms[0], crs_from(layer.crs()), context)
    values = {"area_m2": area, "perimeter_m": perimeter, "method": METHOD_CORRECTED}
    values.update({k: v for k, v in (attrs or {}).items() if k not in INVENTORY_NAMES})
    values["units"] = _units(layer, attrs or {})
    values["corrected_utc"] = utc_now_iso()
    if field_map is not None:
        values = field_map.apply(values)
    fields = layer.fields()
    with one_writer(layer), _Edit(layer, "Correct avalanche"):
        if not layer.changeGeometry(int(fid), geoms[0]):
            raise LayerError(f"The layer '{layer.name()}' refused the corrected geometry of feature {fid}.")
        for name, value in values.items():
            index = field_index(fields, name)
            if index >= 0:
                layer.changeAttributeValue(int(fid), index, value)


def feature_wkt_in_crs(layer: QgsVectorLayer, fid: int, target_crs, transform_context=None) -> str:
    """The polygon of feature ``fid`` as WKT in ``target_crs`` (e.g. the raster's, for correction)."""
    check_polygon_layer(layer)
    feature = layer.getFeature(int(fid))
    if not feature.isValid() or not feature.hasGeometry():
        raise LayerError(f"The feature {fid} of '{layer.name()}' has no polygon to correct.")
    geom = QgsGeometry(feature.geometry())
    target = crs_from(target_crs)
    return _transformed(geom, layer.crs(), target, transform_context,
                        f"The polygon {fid} cannot be transformed to the raster's CRS {target.authid()}.").asWkt()


def selected_polygon_id(layer) -> int:
    """The fid of the one selected feature of a polygon layer (for correction), else LayerError."""
    if not isinstance(layer, QgsVectorLayer) or layer.geometryType() != QgsWkbTypes.PolygonGeometry:
        name = layer.name() if hasattr(layer, "name") else "The active layer"
        raise LayerError(f"'{name}' is not a polygon layer; select one avalanche polygon to correct.")
    ids = layer.selectedFeatureIds()
    if len(ids) != 1:
        raise LayerError(f"Select exactly one polygon in '{layer.name()}' to correct ({len(ids)} selected).")
    return int(ids[0])
