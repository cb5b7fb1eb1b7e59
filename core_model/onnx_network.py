"""A RITM checkpoint's network in ONNX Runtime, without torch: the shipped graph of its variant
(core_model.onnx_variants) with the checkpoint's numpy weights supplied at session creation
(SessionOptions.add_external_initializers: the graphs hold no weights, only their names and shapes).

The network takes the normalised image and the coordinate channels (previous mask, then the click maps)
and returns logits at the input size (RITM's 'instances'); normalisation, the click maps and the
previous-mask binarisation are done in numpy by the ONNX Runtime predictor engine.
"""
from __future__ import annotations

import gzip

import numpy as np

from .checkpoint_arrays import CheckpointArrays, checkpoint_error as _fail, load_checkpoint_arrays
from .checkpoint_values import HRNET_DEFAULTS
from .errors import EngineError
from .onnx_variants import GRAPH_DIR, Variant, match_variant

ENGINE_NAME = "onnxruntime"


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise EngineError("ONNX Runtime is not installed; install the onnxruntime package (or torch for the "
                          "PyTorch engine).") from None
    return onnxruntime


class OnnxRuntimeNetwork:
    """The network of one checkpoint as an ONNX Runtime session, with the model attributes the predictor
    reads (arch_name, params, predictor_hints, with_prev_mask, checkpoint_path)."""
    engine_kind = ENGINE_NAME

    def __init__(self, arrays: CheckpointArrays, variant: Variant, graph_weights: list[str], graph_file: str,
                 threads: int | None = None, model_bytes: bytes | None = None):
        """The shipped graph `graph_file` with the weights `graph_weights` from `arrays`; or, with
        `model_bytes`, that model as it is (weights embedded: an int8 copy, core_model.onnx_int8)."""
        ort = import_onnxruntime()
        params = {**HRNET_DEFAULTS, **arrays.params}
        self.variant = variant
        self.arrays = arrays
        self.quantized = model_bytes is not None
        self.params = dict(params)
        self.arch_name = f"hrnet{variant.width}{'s' if variant.small else ''}"
        self.checkpoint_path = str(arrays.path)
        self.predictor_hints = dict(arrays.hints)
        self.with_prev_mask = variant.with_prev_mask
        self.binary_prev_mask = bool(params["binary_prev_mask"])
        self.use_disks = bool(params["use_disks"])
        self.norm_radius = float(params["norm_radius"])
        mean, std = params["norm_mean_std"]
        self.norm_mean = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.norm_std = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.graph_weights = list(graph_weights)
        # The OrtValues wrap the arrays without copying: both are kept alive with the session.
        self.weight_arrays = [np.ascontiguousarray(arrays.state[name]) for name in graph_weights]
        if model_bytes is None:
            self._values = [ort.OrtValue.ortvalue_from_numpy(w) for w in self.weight_arrays]
            options.add_external_initializers(self.graph_weights, self._values)
            model_bytes = gzip.decompress((GRAPH_DIR / graph_file).read_bytes())
        self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])

    def normalize(self, rgb: np.ndarray) -> np.ndarray:
        return (rgb - self.norm_mean) / self.norm_std

    def __call__(self, image: np.ndarray, coord: np.ndarray) -> np.ndarray:
        """Logits B×1×H×W of the normalised image B×3×H×W and the coordinate channels B×(2|3)×H×W."""
        return self.session.run(["logits"], {"image": np.ascontiguousarray(image, np.float32),
                                             "coord": np.ascontiguousarray(coord, np.float32)})[0]


def read_checkpoint(path) -> tuple[CheckpointArrays, Variant, dict]:
    """The torch-free reader: the checkpoint's checked contents, its variant and that variant's manifest
    entry (the weights' names and shapes matched strictly); CheckpointError naming the file for an unusable
    checkpoint or one whose network has no shipped graph."""
    arrays = load_checkpoint_arrays(path)
    variant, entry = match_variant(lambda reason: _fail(arrays.path, reason), arrays.params, arrays.state)
    return arrays, variant, entry


def load_onnx_network(path, threads: int | None = None) -> OnnxRuntimeNetwork:
    """The network of the RITM checkpoint `path` in ONNX Runtime (no torch); CheckpointError as read_checkpoint."""
    arrays, variant, entry = read_checkpoint(path)
    return OnnxRuntimeNetwork(arrays, variant, entry["graph_weights"], entry["graph"], threads)


def with_model(network: OnnxRuntimeNetwork, model_bytes: bytes, threads: int | None = None) -> OnnxRuntimeNetwork:
    """`network`'s checkpoint run by another model of the same network (e.g. its int8 copy)."""
    return OnnxRuntimeNetwork(network.arrays, network.variant, network.graph_weights, network.variant.graph_file,
                              threads, model_bytes=model_bytes)
