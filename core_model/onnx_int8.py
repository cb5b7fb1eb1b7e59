"""An int8 copy of a checkpoint's network for ONNX Runtime (static quantization; optional, experimental).

ONNX Runtime's static quantization (QDQ format, weights int8 per channel, activations uint8) needs the
network with its weights and a calibration set of real network inputs.  The inputs are recorded here by
running the float predictor in RITM's protocol (simulated clicks from the ground truth, zoom-in, flip)
on calibration images — never on the images the result is evaluated on.  Making the int8 model needs the
`onnx` package (a development tool); running it needs only onnxruntime
(OnnxRuntimeNetwork(..., model_bytes=...)).
"""
from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np

from .errors import EngineError
from .onnx_variants import GRAPH_DIR


def _onnx():
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise EngineError("Making an int8 model needs the onnx package (pip install onnx); running one does "
                          "not.") from None
    return onnx, numpy_helper


def float_model(network):
    """The network's graph with the checkpoint's weights embedded (an onnx ModelProto)."""
    onnx, numpy_helper = _onnx()
    model = onnx.load_from_string(gzip.decompress((GRAPH_DIR / network.variant.graph_file).read_bytes()))
    weights = dict(zip(network.graph_weights, network.weight_arrays))
    for init in model.graph.initializer:
        if init.name in weights:
            init.CopyFrom(numpy_helper.from_array(weights[init.name], init.name))
    return model


def record_calibration_inputs(network, samples, n_clicks: int = 3) -> list[dict]:
    """The network inputs ({'image', 'coord'}) of `n_clicks` simulated clicks on each (image, gt) sample,
    as the float predictor with the checkpoint's recommended settings makes them."""
    from .clicks import ClickSimulator
    from .predictor import InteractivePredictor, recommended_settings
    recorded = []
    original = network.__call__

    class _Recording:
        def __getattr__(self, name):
            return getattr(network, name)

        def __call__(self, image, coord):
            recorded.append({"image": np.array(image, np.float32), "coord": np.array(coord, np.float32)})
            return original(image, coord)

    recorder = _Recording()
    recorder.engine_kind = network.engine_kind
    pred = InteractivePredictor(recorder, settings=recommended_settings(network))
    for image, gt in samples:
        pred.set_image(image)
        simulator = ClickSimulator(gt)
        mask = np.zeros(gt.shape, bool)
        for _ in range(n_clicks):
            click = simulator.next(mask)
            mask = pred.add_click(click.row, click.col, click.is_positive) > pred.settings.threshold
    return recorded


# Kept in float by default: the first convolutions (image stem, click maps — the click path is the
# smallest signal) and the classifier heads; only convolutions are quantized (not the OCR attention).
FLOAT_NODES = ("/conv1/Conv", "/maps_transform/maps_transform.0/Conv", "/maps_transform/maps_transform.2/Conv",
               "/cls_head/Conv")


# Min–max over all calibration inputs, or its moving average per input.  (ONNX Runtime's histogram methods,
# percentile and entropy, need inputs of one size; the predictor's crops vary.)
CALIBRATION_METHODS = ("minmax", "moving-average")


def quantize_int8(network, calibration: list[dict], everything: bool = False, method: str = "minmax") -> bytes:
    """The int8 (QDQ) model of `network` calibrated on `calibration` (min–max), as bytes (the logging of
    the quantizer is left to the caller).  `everything=True` quantizes every operator ONNX Runtime can
    (FLOAT_NODES and the non-convolutions too)."""
    onnx, _ = _onnx()
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, \
        quantize_static
    if method not in CALIBRATION_METHODS:
        raise EngineError(f"Unknown calibration method {method!r}; choose one of {', '.join(CALIBRATION_METHODS)}.")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self._items = iter(calibration)

        def get_next(self):
            return next(self._items, None)

    with tempfile.TemporaryDirectory() as tmp:
        source, prepared, target = (Path(tmp) / f"{n}.onnx" for n in ("float", "prepared", "int8"))
        onnx.save(float_model(network), str(source))
        # ONNX Runtime's recommended pre-processing: BatchNorm folded into the convolutions, shapes inferred.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        selection = {} if everything else {"op_types_to_quantize": ["Conv"], "nodes_to_exclude": list(FLOAT_NODES)}
        quantize_static(str(prepared), str(target), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"CalibMovingAverage": method == "moving-average"}, **selection)
        return target.read_bytes()


def calibration_samples(folder, n_images: int = 16, exclude=()) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, gt) of the first `n_images` images of dataset `folder` whose names (without extension) are
    not in `exclude` (the images an evaluation will use)."""
    from .datasets import EvalDataset
    dataset = EvalDataset(Path(folder))
    skip = {Path(n).stem for n in exclude}
    samples = []
    for i in range(len(dataset)):
        if len(samples) >= n_images:
            break
        sample = dataset[i]
        if Path(sample.name).stem not in skip:
            samples.append((sample.image, sample.gt))
    if not samples:
        raise EngineError(f"The calibration folder {folder} has no images left to calibrate the int8 model on.")
    return samples


def int8_network(checkpoint, calibration_folder, threads: int | None = None, exclude=(), n_images: int = 16,
                 n_clicks: int = 3, everything: bool = False, method: str = "minmax"):
    """The int8 network of `checkpoint`, calibrated on `n_clicks` simulated clicks on each of `n_images`
    images of `calibration_folder` (none of `exclude`)."""
    import logging

    from .onnx_network import load_onnx_network, with_model
    network = load_onnx_network(checkpoint, threads=threads)
    calibration = record_calibration_inputs(network, calibration_samples(calibration_folder, n_images, exclude),
                                            n_clicks)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs a warning per BatchNorm-free weight
    try:
        model = quantize_int8(network, calibration, everything, method)
    finally:
        logging.getLogger().setLevel(level)
    return with_model(network, model, threads)
