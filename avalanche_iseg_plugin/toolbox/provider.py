"""Processing provider "Avalanche digitiser" and its algorithm "Segment avalanches from points".

The algorithm runs the same session as the map tool in batch: a raster plus a point layer whose points
are clicks (a field says positive or negative, another optionally groups points into avalanches) give
one avalanche polygon per group, with the same attributes as the interactive tool.
"""
from __future__ import annotations

import os

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsCsException, QgsFeature,
                       QgsFeatureSink, QgsGeometry, QgsProcessing, QgsProcessingAlgorithm, QgsProcessingException,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer,
                       QgsProcessingProvider, QgsWkbTypes)
from qgis.PyQt.QtGui import QIcon

PROVIDER_ID = "avalanche_iseg"
ICON_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "icon.png")
POSITIVE_WORDS = {"1", "true", "t", "yes", "y", "positive", "pos", "+", "avalanche"}
NEGATIVE_WORDS = {"0", "false", "f", "no", "n", "negative", "neg", "-", "background", "-1"}
NEGATIVE_REACH_PX = 256   # without an avalanche field, a negative point refines avalanches this close


def _within(a, b, distance) -> bool:
    return abs(a[0] - b[0]) < distance and abs(a[1] - b[1]) < distance


def click_sign(value) -> bool | None:
    """True (positive), False (negative) or None (not understood) for a field value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value > 0
    text = str(value).strip().lower()
    if text in POSITIVE_WORDS:
        return True
    if text in NEGATIVE_WORDS:
        return False
    return None


class SegmentFromPointsAlgorithm(QgsProcessingAlgorithm):
    RASTER, POINTS, SIGN_FIELD, GROUP_FIELD = "RASTER", "POINTS", "SIGN_FIELD", "GROUP_FIELD"
    CHECKPOINT, DEVICE, THRESHOLD = "CHECKPOINT", "DEVICE", "THRESHOLD"
    MAX_SIDE, MIN_AREA, SIMPLIFY, OUTPUT = "MAX_SIDE", "MIN_AREA", "SIMPLIFY", "OUTPUT"
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
                "Output: one (multi)polygon per avalanche in the raster's CRS with id, area_m2, perimeter_m, "
                "source, n_pos, n_neg, model, threshold, created_utc and method = 'points'.")

    def createInstance(self):  # noqa: N802
        return SegmentFromPointsAlgorithm()

    def icon(self):
        return QIcon(ICON_PATH)

    def initAlgorithm(self, config=None):  # noqa: N802
        from ..layers.settings import PluginSettings

        settings = PluginSettings.load()
        self.addParameter(QgsProcessingParameterRasterLayer(self.RASTER, "Raster (orthoimage or photo)"))
        self.addParameter(QgsProcessingParameterFeatureSource(self.POINTS, "Click points",
                                                              [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(self.SIGN_FIELD, "Positive/negative field",
                                                      parentLayerParameterName=self.POINTS, optional=True))
        self.addParameter(QgsProcessingParameterField(self.GROUP_FIELD, "Avalanche field (groups points)",
                                                      parentLayerParameterName=self.POINTS, optional=True))
        self.addParameter(QgsProcessingParameterFile(self.CHECKPOINT, "Model checkpoint (.pth)",
                                                     extension="pth", defaultValue=settings.checkpoint or None))
        self.addParameter(QgsProcessingParameterEnum(self.DEVICE, "Device", options=["CPU", "CUDA (GPU)"],
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.THRESHOLD, "Threshold",
                                                       QgsProcessingParameterNumber.Double, settings.threshold,
                                                       minValue=0.01, maxValue=0.99))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_SIDE, "Window max side (pixels)",
                                                       QgsProcessingParameterNumber.Integer, settings.max_side,
                                                       minValue=64, maxValue=8192))
        self.addParameter(QgsProcessingParameterNumber(self.MIN_AREA, "Minimum part area (raster units²)",
                                                       QgsProcessingParameterNumber.Double, settings.min_area,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.SIMPLIFY, "Simplify tolerance (raster units)",
                                                       QgsProcessingParameterNumber.Double, settings.simplify,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Avalanches",
                                                            QgsProcessing.TypeVectorPolygon))

    # ------------------------------------------------------------------------------------------
    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..layers.avalanche_layer import avalanche_fields, measure, utc_now_iso
        from ..engine.predictor_loader import make_predictor
        from ..engine.raster_window import RasterSource
        from ..engine.session import DigitisingSession

        raster = self.parameterAsRasterLayer(parameters, self.RASTER, context)
        points = self.parameterAsSource(parameters, self.POINTS, context)
        if raster is None or points is None:
            raise QgsProcessingException("Choose a raster layer and a point layer.")
        sign_field = self.parameterAsString(parameters, self.SIGN_FIELD, context)
        group_field = self.parameterAsString(parameters, self.GROUP_FIELD, context)
        checkpoint = self.parameterAsFile(parameters, self.CHECKPOINT, context)
        device = self.DEVICES[self.parameterAsEnum(parameters, self.DEVICE, context)]
        threshold = self.parameterAsDouble(parameters, self.THRESHOLD, context)
        max_side = self.parameterAsInt(parameters, self.MAX_SIDE, context)
        min_area = self.parameterAsDouble(parameters, self.MIN_AREA, context)
        simplify = self.parameterAsDouble(parameters, self.SIMPLIFY, context)

        try:
            source = RasterSource.open(raster.source())
        except ValueError as exc:
            raise QgsProcessingException(str(exc)) from exc
        raster_crs = raster.crs() if source.is_georeferenced else QgsCoordinateReferenceSystem()
        groups, skipped = self._read_clicks(points, sign_field, group_field, raster_crs, source, context, feedback)
        if not groups:
            raise QgsProcessingException("No usable avalanche: every group needs at least one positive point "
                                         f"inside the raster '{source.name}'.")
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, avalanche_fields(),
                                             QgsWkbTypes.MultiPolygon, raster_crs)
        if sink is None:
            raise QgsProcessingException("The output layer cannot be created; choose another output file.")

        factory = type(self).predictor_factory or make_predictor
        feedback.pushInfo(f"Loading the model {os.path.basename(checkpoint) if checkpoint else ''} on {device}…")
        try:
            predictor = factory(checkpoint, device, threshold)
        except (ValueError, RuntimeError) as exc:
            raise QgsProcessingException(str(exc)) from exc
        session = DigitisingSession(source, predictor, max_side=max_side)
        written, next_id = 0, 1
        for index, (key, clicks) in enumerate(groups):
            if feedback.isCanceled():
                break
            feedback.setProgress(100.0 * index / len(groups))
            label = f"avalanche {key!r}" if group_field else f"point {key}"
            try:
                session.discard()
                for x, y, positive in clicks:
                    session.add_click(x, y, positive)
                finished = session.finish(min_area=min_area, simplify=simplify)
            except ValueError as exc:
                feedback.reportError(f"{label}: {exc}", fatalError=False)
                continue
            geometry = QgsGeometry.collectGeometry([QgsGeometry.fromWkt(w) for w in finished.polygons_wkt])
            geometry.convertToMultiType()
            area, perimeter = measure(geometry, raster_crs, context.transformContext())
            feature = QgsFeature(avalanche_fields())
            feature.setGeometry(geometry)
            feature.setAttributes([next_id, area, perimeter, finished.source_name, finished.n_pos, finished.n_neg,
                                   finished.model, finished.threshold, utc_now_iso(), "points"])
            sink.addFeature(feature, QgsFeatureSink.FastInsert)
            written += 1
            next_id += 1
            feedback.pushInfo(f"{label}: {len(finished.polygons_wkt)} part(s), {area:.0f} "
                              f"{'m²' if raster_crs.isValid() else 'pixel²'}")
        feedback.setProgress(100.0)
        feedback.pushInfo(f"{written} avalanche(s) written, {len(groups) - written} failed, {skipped} point(s) skipped.")
        return {self.OUTPUT: dest_id}

    def _read_clicks(self, points, sign_field, group_field, raster_crs, source, context, feedback):
        """[(group key, [(x, y, positive), ...]), ...] in raster CRS, positives first in each group."""
        transform = None
        if raster_crs.isValid() and points.sourceCrs().isValid() and points.sourceCrs() != raster_crs:
            transform = QgsCoordinateTransform(points.sourceCrs(), raster_crs, context.transformContext())
        grouped: dict = {}
        order: list = []
        negatives_everywhere: list = []
        skipped = 0
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
            for part in geometry.constParts():
                x, y = part.x(), part.y()
                if not source.contains(x, y):
                    feedback.reportError(f"Point {feature.id()} lies outside the raster '{source.name}'; skipped.")
                    skipped += 1
                    continue
                if group_field:
                    key = feature[group_field]
                elif positive:
                    key = feature.id()
                else:
                    negatives_everywhere.append((x, y, False))
                    continue
                if key not in grouped:
                    grouped[key] = []
                    order.append(key)
                grouped[key].append((x, y, positive))
        groups = []
        for key in order:
            clicks = grouped[key]
            if not group_field:   # negatives within a working-window margin of the positive point
                row, col = source.pixel_of(*clicks[0][:2])
                clicks = clicks + [n for n in negatives_everywhere if _within(source.pixel_of(n[0], n[1]),
                                                                              (row, col), NEGATIVE_REACH_PX)]
            positives = [c for c in clicks if c[2]]
            if not positives:
                feedback.reportError(f"Avalanche {key!r} has no positive point; skipped.")
                continue
            groups.append((key, positives + [c for c in clicks if not c[2]]))
        return groups, skipped


class AvalancheProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "Avalanche digitiser"

    def icon(self):
        return QIcon(ICON_PATH)

    def loadAlgorithms(self):  # noqa: N802
        self.addAlgorithm(SegmentFromPointsAlgorithm())
