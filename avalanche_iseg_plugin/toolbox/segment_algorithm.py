"""The Processing algorithm "Segment avalanches from points".

A raster plus a point layer whose points are clicks (a field says positive or negative, another
optionally groups points into avalanches; grouping rules: ``engine.click_groups``) give one avalanche
polygon per group.  Each group runs through ``engine.avalanche_engine.segment_object``, exactly as the
``segment`` CLI runs an object, and its feature gets the avalanche schema's attributes by name, with
method = 'points'.
"""
from __future__ import annotations

import os

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsCsException, QgsFeature,
                       QgsFeatureSink, QgsGeometry, QgsProcessing, QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
                       QgsWkbTypes)
from qgis.PyQt.QtGui import QIcon

from ..engine.click_groups import click_sign, group_clicks
from ..engine.errors import USER_ERRORS, AvalancheError
from core_model.brs_modes import BRS_MODES
from ..layers.settings import load_settings
from .model_parameters import model_choice, model_parameter, setting_parameters

ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "icon.png")


class SegmentFromPointsAlgorithm(QgsProcessingAlgorithm):
    RASTER, POINTS, SIGN_FIELD, GROUP_FIELD = "RASTER", "POINTS", "SIGN_FIELD", "GROUP_FIELD"
    CHECKPOINT, DEVICE, THRESHOLD, REFINEMENT = "CHECKPOINT", "DEVICE", "THRESHOLD", "REFINEMENT"
    MAX_SIDE, MIN_AREA, SIMPLIFY, OUTPUT = "MAX_SIDE", "MIN_AREA", "SIMPLIFY", "OUTPUT"
    RESOLUTION = "RESOLUTION"
    DEVICES = ["cpu", "cuda"]

    #: (checkpoint, device, threshold) -> InteractivePredictor; tests put a fake predictor here
    predictor_factory = None

    def name(self):
        return "segment_from_points"

    def displayName(self):  # noqa: N802
        return "Segment avalanches from points"

    def group(self):
        return ""

    def groupId(self):  # noqa: N802
        return ""

    def shortHelpString(self):  # noqa: N802
        return ("Segments avalanches on a raster (orthoimage or photo) from click points, with the same model "
                "and rules as the interactive tool.\n\n"
                "Points: one or more points per avalanche. 'Positive/negative field' says which points lie "
                "on the avalanche (1, true, yes, positive, +) and which lie beside it (0, false, no, negative, "
                "-); without it every point is positive. 'Avalanche field' groups points into avalanches "
                "(points with the same value make one polygon); without it every positive point is its own "
                "avalanche and negative points refine every avalanche near them.\n\n"
                "Any raster layer works: file rasters are read at their own pixels; web services (WMS, WMTS, "
                "XYZ, WCS) and virtual rasters are drawn by QGIS around each avalanche's points at 'Ground "
                "resolution' (layer CRS units per pixel; 0 = the layer's own pixel size).\n\n"
                "Output: one (multi)polygon per avalanche in the raster's CRS with id, area_m2, perimeter_m, "
                "source, n_pos, n_neg, model, threshold, created_utc and method = 'points'.")

    def createInstance(self):  # noqa: N802
        return SegmentFromPointsAlgorithm()

    def icon(self):
        return QIcon(ICON_PATH)

    def initAlgorithm(self, config=None):  # noqa: N802
        settings = load_settings()
        self.addParameter(QgsProcessingParameterRasterLayer(self.RASTER, "Raster (orthoimage or photo)"))
        self.addParameter(QgsProcessingParameterFeatureSource(self.POINTS, "Click points",
                                                              [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(self.SIGN_FIELD, "Positive/negative field",
                                                      parentLayerParameterName=self.POINTS, optional=True))
        self.addParameter(QgsProcessingParameterField(self.GROUP_FIELD, "Avalanche field (groups points)",
                                                      parentLayerParameterName=self.POINTS, optional=True))
        self.addParameter(model_parameter(settings))
        # Optional: left out (a model, a script, qgis_process) or empty, it is the model the dock uses.
        self.addParameter(QgsProcessingParameterFile(self.CHECKPOINT, "Model checkpoint (.pth; empty: the dock's model)",
                                                     extension="pth", defaultValue=settings.checkpoint or None,
                                                     optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", options=["CPU", "CUDA (GPU)"],
                                                     defaultValue=0))
        for parameter in setting_parameters(self.THRESHOLD):   # preset, zoom-in, its size, longest side, threshold
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterEnum(
            self.REFINEMENT, "Refinement (RITM's back-propagating refinement; slower per click)",
            options=list(BRS_MODES),
            defaultValue=BRS_MODES.index(settings.brs_mode) if settings.brs_mode in BRS_MODES else 0))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_SIDE, "Window max side (pixels)",
                                                       QgsProcessingParameterNumber.Integer, settings.max_side,
                                                       minValue=64, maxValue=8192))
        self.addParameter(QgsProcessingParameterNumber(self.MIN_AREA, "Minimum part area (raster units²)",
                                                       QgsProcessingParameterNumber.Double, settings.min_area,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.SIMPLIFY, "Simplify tolerance (raster units)",
                                                       QgsProcessingParameterNumber.Double, settings.simplify,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            self.RESOLUTION, "Ground resolution for web services and virtual rasters (layer units per pixel; "
            "0 = the layer's own)", QgsProcessingParameterNumber.Double, 0.0, minValue=0.0, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Avalanches",
                                                            QgsProcessing.TypeVectorPolygon))

    # ------------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..engine.avalanche_engine import segment_object
        from ..engine.avalanche_schema import METHOD_POINTS, attributes_of
        from ..engine.predictor_loader import make_predictor
        from ..engine.raster_window import RasterSource
        from ..engine.session import DigitisingSession
        from ..layers.avalanche_fields import avalanche_fields, set_attributes
        from ..engine.target_rules import units_field
        from ..layers.crs import is_defined
        from ..layers.measure import area_units, measure

        raster = self.parameterAsRasterLayer(parameters, self.RASTER, context)
        points = self.parameterAsSource(parameters, self.POINTS, context)
        if raster is None or points is None:
            raise QgsProcessingException("Choose a raster layer and a point layer.")
        sign_field = self.parameterAsString(parameters, self.SIGN_FIELD, context)
        group_field = self.parameterAsString(parameters, self.GROUP_FIELD, context)
        try:
            choice = model_choice(self, parameters, context, self.CHECKPOINT, self.THRESHOLD)
        except USER_ERRORS as exc:   # a model that is not installed, a bad preset: one sentence
            raise QgsProcessingException(str(exc)) from exc
        checkpoint, threshold = choice.checkpoint, choice.threshold
        device = self.DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        from ..engine.devices import device_problem

        problem = device_problem(device)   # CUDA without a GPU: one line, before any work
        if problem:
            raise QgsProcessingException(problem)
        max_side = self.parameterAsInt(parameters, self.MAX_SIDE, context)
        brs_mode = BRS_MODES[self.parameterAsEnum(parameters, self.REFINEMENT, context)]
        min_area = self.parameterAsDouble(parameters, self.MIN_AREA, context)
        simplify = self.parameterAsDouble(parameters, self.SIMPLIFY, context)

        from ..layers.rendered_raster import reads_through_qgis
        from .drawn_raster import DrawnRaster

        try:
            if reads_through_qgis(raster):
                source = DrawnRaster(raster, self.parameterAsDouble(parameters, self.RESOLUTION, context), max_side)
            else:
                source = RasterSource.open(raster.source())
        except AvalancheError as exc:
            raise QgsProcessingException(str(exc)) from exc
        raster_crs = raster.crs() if source.is_georeferenced else QgsCoordinateReferenceSystem()
        clicks, skipped = self._read_points(points, sign_field, group_field, raster_crs, source, context, feedback)
        groups, without_positive = group_clicks(clicks, by_field=bool(group_field), pixel_of=source.grid.pixel_of)
        for key in without_positive:
            feedback.reportError(f"Avalanche {key!r} has no positive point; skipped.")
        if not groups:
            raise QgsProcessingException("No usable avalanche: every group needs at least one positive point "
                                         f"inside the raster '{source.name}'.")
        fields = avalanche_fields()
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields,
                                             QgsWkbTypes.MultiPolygon, raster_crs)
        if sink is None:
            raise QgsProcessingException("The output layer cannot be created; choose another output file.")

        factory = type(self).predictor_factory or make_predictor
        feedback.pushInfo(f"Loading the model {os.path.basename(checkpoint) if checkpoint else ''} on {device}"
                          + (f" ({choice.describe()}, threshold {threshold:g})…" if choice.describe() else "…"))
        try:
            # the refinement mode and settings only when chosen: factories of the three-argument kind keep working
            predictor = factory(checkpoint, device, threshold, **({} if brs_mode == "NoBRS" else
                                                                 {"brs_mode": brs_mode}), **choice.factory_kwargs())
        except USER_ERRORS as exc:  # PredictorUnavailable, core_model's CheckpointError
            raise QgsProcessingException(str(exc)) from exc
        except (RuntimeError, AssertionError, MemoryError) as exc:  # e.g. CUDA out of memory, torch without CUDA
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise QgsProcessingException(f"The model cannot be loaded on {device} ({first}); choose CPU.") from exc
        session = None if isinstance(source, DrawnRaster) else DigitisingSession(source, predictor, max_side=max_side)
        written = 0
        for index, (key, group) in enumerate(groups):
            if feedback.isCanceled():
                break
            feedback.setProgress(100.0 * index / len(groups))
            label = f"avalanche {key!r}" if group_field else f"point {key}"
            try:
                if isinstance(source, DrawnRaster):   # drawn around this avalanche's points
                    session = DigitisingSession(source.source_around(group), predictor, max_side=max_side)
                finished = segment_object(session, group, min_area=min_area, simplify=simplify)
            except AvalancheError as exc:
                feedback.reportError(f"{label}: {exc}", fatalError=False)
                continue
            geometry = QgsGeometry.collectGeometry([QgsGeometry.fromWkt(w) for w in finished.polygons_wkt])
            geometry.convertToMultiType()
            area, perimeter = measure(geometry, raster_crs, context.transformContext())
            feature = QgsFeature(fields)
            feature.setGeometry(geometry)
            set_attributes(feature, attributes_of(finished, feature_id=written + 1, area=area, perimeter=perimeter,
                                                  method=METHOD_POINTS,
                                                  units=units_field(is_defined(raster_crs), source.is_georeferenced)))
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
            written += 1
            feedback.pushInfo(f"{label}: {len(finished.polygons_wkt)} part(s), {area:.0f} "
                              f"{area_units(raster_crs, georeferenced=source.is_georeferenced)}")
        if session is not None:
            session.discard()
        if isinstance(source, DrawnRaster):
            source.close()
        feedback.setProgress(100.0)
        feedback.pushInfo(f"{written} avalanche(s) written, {len(groups) - written} failed, {skipped} point(s) skipped.")
        return {self.OUTPUT: dest_id}

    def _read_points(self, points, sign_field, group_field, raster_crs, source, context, feedback):
        """([(x, y, positive, key), ...] in raster CRS, number of points skipped); see engine.click_groups
        for the key."""
        transform = None
        if raster_crs.isValid() and points.sourceCrs().isValid() and points.sourceCrs() != raster_crs:
            transform = QgsCoordinateTransform(points.sourceCrs(), raster_crs, context.transformContext())
        clicks, skipped = [], 0
        for feature in points.getFeatures():
            geometry = feature.geometry()
            if geometry.isNull() or geometry.isEmpty():
                skipped += 1
                continue
            if transform is not None:
                try:
                    geometry.transform(transform)
                except QgsCsException:
                    feedback.reportError(f"Point {feature.id()} cannot be transformed to the raster's CRS; skipped.")
                    skipped += 1
                    continue
            positive = True
            if sign_field:
                positive = click_sign(feature[sign_field])
                if positive is None:
                    feedback.reportError(f"Point {feature.id()}: '{feature[sign_field]}' in '{sign_field}' is "
                                         "neither positive nor negative; skipped.")
                    skipped += 1
                    continue
            key = feature[group_field] if group_field else feature.id()
            for part in geometry.constParts():
                x, y = part.x(), part.y()
                if not source.grid.contains(x, y):
                    feedback.reportError(f"Point {feature.id()} lies outside the raster '{source.name}'; skipped.")
                    skipped += 1
                    continue
                clicks.append((x, y, positive, key))
        return clicks, skipped
