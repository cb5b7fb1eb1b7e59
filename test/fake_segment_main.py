"""``python test/fake_segment_main.py [--pause-before-write MARKER] SEGMENT-ARGS...``: the segment CLI with the
deterministic FakePredictor, as its own process (for faults a test cannot make in-process: a file size
limit, signals).  With --pause-before-write, the first write waits (after the GeoPackage was created) until
the process is signalled, writing MARKER first so that the test knows when."""
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [os.environ.get("AVALANCHE_TREE", str(HERE.parent)), str(HERE)]

from gis_fixtures import FakePredictor  # noqa: E402
from avalanche_iseg_plugin.cli import segment  # noqa: E402


def main(argv):
    if argv[:1] == ["--pause-before-write"]:
        marker, argv = Path(argv[1]), argv[2:]
        from avalanche_iseg_plugin.layers import avalanche_layer

        def paused(*_args, **_kwargs):
            marker.write_text("created")
            time.sleep(60)
            raise SystemExit("no signal came")
        avalanche_layer.add_finished = paused
    segment.make_predictor = lambda path, device, threshold: FakePredictor(threshold=threshold)
    return segment.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
