"""Library warnings never break the one-line contract of the command lines (issue 16, D7): after an
error stderr is the one error line; after a success each warning is one line."""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

from gis_fixtures import make_lobe_geotiff

from core_model.warning_lines import warnings_as_lines

REPO = Path(__file__).resolve().parents[1]


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("true",))


def test_warnings_are_one_line_after_success_and_dropped_after_an_error():
    out = io.StringIO()
    with warnings_as_lines(out):
        warnings.warn("first line\n  second line of a library warning", UserWarning)
        warnings.warn("first line\n  second line of a library warning", UserWarning)
    assert out.getvalue() == "warning: first line second line of a library warning\n"
    out = io.StringIO()
    try:
        with warnings_as_lines(out):
            warnings.warn("noise", UserWarning)
            raise ValueError("bad input")
    except ValueError:
        pass
    assert out.getvalue() == ""


def test_segment_cli_error_is_one_line_with_a_warning_loading_checkpoint(tmp_path):
    info = make_lobe_geotiff(tmp_path / "ortho.tif", size=(120, 160), pixel=1.25)
    clicks = tmp_path / "clicks.json"
    x, y = info["lobe_xy"]
    clicks.write_text(json.dumps([{"x": x, "y": y, "positive": True}]))
    evil = tmp_path / "p5.pth"
    with open(evil, "wb") as f:
        pickle.dump({"state_dict": {}, "config": _RunsCode()}, f, protocol=5)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONWARNINGS"] = "always"
    result = subprocess.run([sys.executable, "-m", "avalanche_iseg_plugin.segment", "--raster", info["path"],
                             "--clicks", str(clicks), "--out", str(tmp_path / "a.gpkg"), "--checkpoint", str(evil)],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "run code" in lines[0] and "p5.pth" in lines[0]
    assert not (tmp_path / "a.gpkg").exists()
