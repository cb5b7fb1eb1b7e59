"""The Processing algorithm "Terrain attributes": for every polygon of any layer, the terrain from a DEM.

Each feature keeps its fields and gets elev_min_m, elev_max_m, slope_mean_deg, aspect_deg and
area_3d_m2 (fields it has already are overwritten, the others added), computed by
``engine.terrain_attributes`` exactly as the digitiser does when a DEM is chosen in its dock: the DEM (any
CRS) resampled to the polygon layer's CRS with GDAL.  A polygon that leaves the DEM gets empty terrain
fields and a line in the log.
"""
from __future__ import annotations

from qgis.core import (QgsFeature, QgsFeatureSink, QgsField, QgsFields, QgsProcessing, QgsProcessingAlgorithm,
                       QgsProcessingException, QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterRasterLayer)
from qgis.PyQt.QtCore import QVariant
from qgis.PyQt.QtGui import QIcon

from ..engine.avalanche_schema import TERRAIN_NAMES
from .segment_algorithm import ICON_PATH


class TerrainAttributesAlgorithm(QgsProcessingAlgorithm):
    INPUT, DEM, OUTPUT = "INPUT", "DEM", "OUTPUT"

    def name(self):
        return "terrain_attributes"

    def displayName(self):  # noqa: N802
        return "Terrain attributes"

    def group(self):
        return ""

    def groupId(self):  # noqa: N802
        return ""

    def shortHelpString(self):  # noqa: N802
        return ("Adds the terrain of each polygon from a DEM: lowest and highest point (elev_min_m, elev_max_m), "
                "mean slope (slope_mean_deg, Horn's method as gdaldem), aspect (aspect_deg, circular mean of the "
                "sloping cells, 0 = grid north, clockwise) and surface area (area_3d_m2).\n\n"
                "The DEM may be in any CRS: it is resampled to the polygons' CRS with GDAL (bilinear). Polygons "
                "that reach beyond the DEM get empty terrain fields and a line in the log.")

    def createInstance(self):  # noqa: N802
        return TerrainAttributesAlgorithm()

    def icon(self):
        return QIcon(ICON_PATH)

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(self.INPUT, "Avalanche polygons",
                                                              [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterRasterLayer(self.DEM, "DEM (elevation model)"))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Avalanches with terrain",
                                                            QgsProcessing.TypeVectorPolygon))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..engine.terrain_attributes import terrain_attributes

        source = self.parameterAsSource(parameters, self.INPUT, context)
        dem = self.parameterAsRasterLayer(parameters, self.DEM, context)
        if source is None or dem is None:
            raise QgsProcessingException("Choose a polygon layer and a DEM raster layer.")
        fields = QgsFields(source.fields())
        for name in TERRAIN_NAMES:
            if fields.indexOf(name) < 0:
                fields.append(QgsField(name, QVariant.Double))
        sink, dest_id = self.parameterAsSink(parameters, self.OUTPUT, context, fields, source.wkbType(),
                                             source.sourceCrs())
        if sink is None:
            raise QgsProcessingException("The output layer cannot be created; choose another output file.")
        crs_wkt = source.sourceCrs().toWkt() if source.sourceCrs().isValid() else ""
        total, empty = max(1, source.featureCount()), 0
        for index, feature in enumerate(source.getFeatures()):
            if feedback.isCanceled():
                break
            out = QgsFeature(fields)
            out.setGeometry(feature.geometry())
            for name in source.fields().names():
                out[name] = feature[name]
            if feature.hasGeometry() and not feature.geometry().isEmpty():
                terrain = terrain_attributes(dem.source(), feature.geometry().asWkt(), crs_wkt, dem.name(),
                                             dem.crs().toWkt())
                values, problem = terrain.values, terrain.problem
            else:
                values, problem = dict.fromkeys(TERRAIN_NAMES), "it has no polygon"
            if problem:
                empty += 1
                feedback.reportError(f"Feature {feature.id()}: {problem}", fatalError=False)
            for name, value in values.items():
                out[name] = value
            sink.addFeature(out, QgsFeatureSink.FastInsert)
            feedback.setProgress(100.0 * (index + 1) / total)
        feedback.pushInfo(f"{total - empty} polygon(s) with terrain attributes, {empty} without.")
        return {self.OUTPUT: dest_id}
