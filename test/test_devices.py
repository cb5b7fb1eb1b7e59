"""Devices: CPU and each CUDA device torch sees; a stored device that does not exist falls back to CPU
with a message and the setting is corrected; Processing with CUDA and no GPU fails with one line; the
status line shows the model's real device and the last click's latency. CUDA paths run on CPU-only
machines; only the GPU assertions skip."""
from __future__ import annotations

import pytest
from qgis.core import QgsApplication, QgsRasterLayer, QgsSettings

from avalanche_iseg_plugin.engine import devices
from avalanche_iseg_plugin.engine.predictor_loader import PredictorUnavailable, make_predictor
from avalanche_iseg_plugin.engine.protocol import AddClick, PredictorKey, SetRaster
from avalanche_iseg_plugin.engine.session_server import SessionServer
from avalanche_iseg_plugin.gui.dock import AvalancheDock
from avalanche_iseg_plugin.engine.plugin_settings import PluginSettings
from avalanche_iseg_plugin.layers.settings import PREFIX, load_settings
from avalanche_iseg_plugin.toolbox.provider import AvalancheProvider
from avalanche_iseg_plugin.toolbox.segment_algorithm import SegmentFromPointsAlgorithm
from gis_fixtures import FakePredictor, make_lobe_geotiff

import torch  # noqa: E402 - a test requirement (requirements.txt)
HAS_GPU = torch.cuda.is_available()
NO_GPU = [("cpu", "CPU")]
TWO_GPUS = [("cpu", "CPU"), ("cuda:0", "GPU 0: Test A"), ("cuda:1", "GPU 1: Test B")]


def test_available_devices_lists_cpu_then_each_gpu_by_name():
    listed = devices.available_devices()
    assert listed[0] == ("cpu", "CPU")
    assert [d for d, _ in listed[1:]] == [f"cuda:{i}" for i in range(torch.cuda.device_count() if HAS_GPU else 0)]
    for index, (_, label) in enumerate(listed[1:]):
        assert label == f"GPU {index}: {torch.cuda.get_device_name(index)}"


def test_unavailable_device_falls_back_to_cpu_with_a_sentence():
    assert devices.resolve_device("cuda", TWO_GPUS) == ("cuda:0", "")
    assert devices.resolve_device("cuda:1", TWO_GPUS) == ("cuda:1", "")
    device, message = devices.resolve_device("cuda", NO_GPU)
    assert device == "cpu"
    assert message.startswith("The device 'cuda' is not available (") and message.endswith(
        "the model runs on the CPU instead (the setting was changed to CPU).")
    assert devices.resolve_device("cuda:3", TWO_GPUS)[1].startswith(
        "The device 'cuda:3' is not available (PyTorch sees cuda:0, cuda:1)")


@pytest.fixture
def clean_settings():
    QgsSettings().remove(PREFIX.rstrip("/"))
    yield
    QgsSettings().remove(PREFIX.rstrip("/"))


def test_dock_lists_the_gpus_and_corrects_a_stored_cuda_without_gpu(qgis_iface, clean_settings):
    QgsSettings().setValue(PREFIX + "device", "cuda")
    settings = load_settings()
    assert settings.device == "cuda"
    dock = AvalancheDock(settings)
    changed = []
    dock.settingsChanged.connect(changed.append)
    message = dock.refresh_devices(NO_GPU)
    assert "not available" in message and "runs on the CPU instead" in message
    assert [dock.device_combo.itemData(i) for i in range(dock.device_combo.count())] == ["cpu"]
    assert dock.device_combo.currentData() == "cpu"
    assert settings.device == "cpu" and load_settings().device == "cpu" and changed == ["device"]
    # with GPUs: each one by name, the stored one chosen
    settings.device = "cuda:1"
    assert dock.refresh_devices(TWO_GPUS) == ""
    assert [dock.device_combo.itemText(i) for i in range(3)] == ["CPU", "GPU 0: Test A", "GPU 1: Test B"]
    assert dock.device_combo.currentData() == "cuda:1"
    dock.device_combo.setCurrentIndex(0)
    assert load_settings().device == "cpu"
    dock.deleteLater()


def test_real_loader_refuses_a_missing_gpu_with_one_sentence(tmp_path):
    if HAS_GPU:
        pytest.skip("a CUDA GPU is present: the refusal cannot happen here")
    with pytest.raises(PredictorUnavailable) as err:
        make_predictor(str(tmp_path / "m.pth"), "cuda", 0.5)
    assert str(err.value) == "The device 'cuda' is not available (PyTorch sees no CUDA GPU on this computer); choose CPU."


def test_processing_with_cuda_and_no_gpu_gives_one_line(qgis_processing, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    provider = AvalancheProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    SegmentFromPointsAlgorithm.predictor_factory = None
    try:
        info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(120, 160))
        raster = QgsRasterLayer(info["path"], "ortho")
        from qgis.core import QgsVectorLayer
        points = QgsVectorLayer("Point?crs=EPSG:2056&field=sign:string", "p", "memory")
        params = {"RASTER": raster, "POINTS": points, "SIGN_FIELD": "sign", "CHECKPOINT": str(tmp_path / "m.pth"),
                  "DEVICE": 1, "OUTPUT": str(tmp_path / "x.gpkg")}
        if HAS_GPU:
            pytest.skip("a CUDA GPU is present: Processing runs on it")
        with pytest.raises(QgsProcessingException) as err:
            processing.run("avalanche_iseg:segment_from_points", params)
        message = str(err.value)
        del err, raster, points
        assert message == "The device 'cuda' is not available (PyTorch sees no CUDA GPU on this computer); choose CPU."
    finally:
        QgsApplication.processingRegistry().removeProvider(provider)


class DevicePredictor(FakePredictor):
    device = "cuda:7"   # where a real InteractivePredictor says it runs


def test_status_shows_the_real_device_and_the_last_click_latency(tmp_path):
    info = make_lobe_geotiff(tmp_path / "ortho.tif")
    server = SessionServer(lambda c, d, t: DevicePredictor(threshold=t))
    view = server.handle(SetRaster(info["path"], 1600, PredictorKey("m.pth", "cpu"), 0.49))
    assert view.device == "" and view.latency_ms is None
    x, y = info["lobe_xy"]
    view = server.handle(AddClick(x, y, True))
    assert view.device == "cuda:7" and view.n_pos == 1
    assert view.latency_ms is not None and 0.0 < view.latency_ms < 10_000
    dock = AvalancheDock(PluginSettings())
    dock.set_status(1, 0, "m", view.device, latency_ms=12.4)
    assert dock.status_label.text() == "Clicks: 1 positive, 0 negative · model: m · device: cuda:7 · last click: 12 ms"
    dock.deleteLater()
