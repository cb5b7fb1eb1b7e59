"""The plugin in a QGIS whose Python has neither torch nor cv2 nor onnxruntime: it loads and its first use shows the
"install dependencies" dialog (the check runs in a child pytest, see qgis_without_torch_check.py)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_plugin_offers_to_install_when_onnxruntime_and_opencv_are_missing(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path),
               AVALANCHE_ISEG_DEPS_DIR=str(tmp_path / "empty_private_folder"))
    cmd = [sys.executable, str(REPO / "test" / "hidden_modules.py"), "torch,cv2,onnxruntime", "-m", "pytest", "-q", "-x",
           "-p", "no:cacheprovider", "--rootdir", str(REPO), str(REPO / "test" / "qgis_without_torch_check.py")]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "1 passed" in out.stdout
