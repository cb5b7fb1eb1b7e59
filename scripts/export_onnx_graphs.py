"""Regenerate the ONNX Runtime engine's graph files (core_model/onnx_graphs/): needs torch and onnx.

python scripts/export_onnx_graphs.py [--out core_model/onnx_graphs]

For every network variant in core_model.onnx_variants.SHIPPED the network part of RITM's HRNetModel (after
the click maps: normalised RGB and the coordinate channels in, logits at the input size out) is exported
with torch.onnx (TorchScript exporter, BatchNorm kept as such, no constant folding, so every weight stays
an initializer named by its state-dict key; the weights are made distinct first, since the exporter merges
equal ones).  The weights are then marked as external data and left
out: the engine supplies a checkpoint's numpy arrays at session creation
(SessionOptions.add_external_initializers).  Graphs are stored gzipped (`<variant>.onnx.gz`, tens of KB).  Beside each, `<variant>.json.gz` lists the graph's weights and
the names and shapes of the full state dict a checkpoint of that variant holds (the strict check at load).
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from core_model.model import HRNetModel  # noqa: E402
from core_model.onnx_variants import SHIPPED, WEIGHTS_LOCATION, Variant  # noqa: E402


class NetworkAfterClickMaps(nn.Module):
    """HRNetModel's forward from the normalised image and the coordinate channels (previous mask, then the
    click maps) to the logits upsampled to the input size; parameter names equal the model's."""

    def __init__(self, model: HRNetModel):
        super().__init__()
        self.rgb_conv = model.rgb_conv
        self.maps_transform = model.maps_transform
        self.feature_extractor = model.feature_extractor

    def forward(self, image: torch.Tensor, coord: torch.Tensor) -> torch.Tensor:
        if self.rgb_conv is not None:
            out, _ = self.feature_extractor(self.rgb_conv(torch.cat((image, coord), dim=1)))
        else:
            fe = self.feature_extractor
            out, _ = fe.forward_from_stem(fe.image_stem(image), self.maps_transform(coord))
        return nn.functional.interpolate(out, size=image.shape[2:], mode="bilinear", align_corners=True)


def export_variant(variant: Variant, out_dir: Path) -> dict:
    torch.manual_seed(0)
    model = HRNetModel(**variant.model_params()).eval()
    state = model.state_dict()
    with torch.no_grad():  # distinct values everywhere: the exporter merges equal weights into one otherwise
        for key, value in state.items():
            if value.is_floating_point():
                value.copy_(torch.rand_like(value) + 0.5)
    net = NetworkAfterClickMaps(model).eval()
    image = torch.rand(2, 3, 96, 128)
    coord = torch.rand(2, variant.coord_channels, 96, 128)
    buffer = io.BytesIO()
    torch.onnx.export(net, (image, coord), buffer, dynamo=False, input_names=["image", "coord"],
                      output_names=["logits"], opset_version=17, do_constant_folding=False,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      dynamic_axes={"image": {0: "batch", 2: "height", 3: "width"},
                                    "coord": {0: "batch", 2: "height", 3: "width"},
                                    "logits": {0: "batch", 2: "height", 3: "width"}})
    graph = onnx.load_from_string(buffer.getvalue())
    names = set()
    for init in graph.graph.initializer:
        if init.name in state:
            init.ClearField("raw_data")
            del init.float_data[:]
            init.data_location = onnx.TensorProto.EXTERNAL
            del init.external_data[:]
            entry = init.external_data.add()
            entry.key, entry.value = "location", WEIGHTS_LOCATION
            names.add(init.name)
    graph.producer_name = "avalanche-iseg core_model (scripts/export_onnx_graphs.py)"
    merged = [n.input[0] for n in graph.graph.node if n.op_type == "Identity" and n.input[0] in state]
    assert not merged, f"weights merged by the exporter: {merged[:3]}"
    for node in graph.graph.node:
        node.doc_string = ""
    (out_dir / variant.graph_file).write_bytes(gzip.compress(graph.SerializeToString(), 9, mtime=0))
    entry = {"graph": variant.graph_file, "graph_weights": sorted(names),
             "state_dict": {k: list(v.shape) for k, v in state.items()}}
    (out_dir / variant.manifest_file).write_bytes(gzip.compress(json.dumps(entry, separators=(",", ":")).encode(),
                                                                9, mtime=0))
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "core_model" / "onnx_graphs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for variant in SHIPPED:
        entry = export_variant(variant, args.out)
        size = (args.out / variant.graph_file).stat().st_size
        print(f"{variant.name}: {size / 1024:.0f} KB, {len(entry['graph_weights'])} weights")


if __name__ == "__main__":
    main()
