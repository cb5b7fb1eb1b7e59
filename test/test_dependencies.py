"""The dependency step's plain-Python part: status lines and exit codes, a real pip install of a small
package from the configured index into a temp target, and one-sentence reasons for failed installs."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from avalanche_iseg_plugin.dependencies import check as deps
from avalanche_iseg_plugin.dependencies import install as installer

REPO = Path(__file__).resolve().parents[1]
HIDER = str(REPO / "test" / "hidden_modules.py")


def run_cli(*args, hide="", env=None, timeout=300):
    cmd = [sys.executable, HIDER, hide, "-m", "avalanche_iseg_plugin.dependencies", *args]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=timeout)


def offline_env(**extra):
    """pip with none of this machine's configuration, pointed at ``extra``'s index settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def test_status_lists_each_dependency_with_its_version_and_exits_0():
    out = run_cli("status")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    import cv2
    import numpy
    import onnxruntime
    import torch
    assert f"numpy: {numpy.__version__} OK" in out.stdout
    assert any(line.startswith(f"onnxruntime: {onnxruntime.__version__} OK") for line in lines)
    assert any(line.startswith(f"torch: {torch.__version__} OK") for line in lines)
    assert any(line.startswith(f"cv2 (opencv-python-headless): {cv2.__version__} OK") for line in lines)


def test_status_without_pytorch_is_fine_pytorch_is_optional():
    out = run_cli("status", hide="torch")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "torch: missing: torch is not installed (optional: refinement modes, training, NVIDIA GPU)." \
        in out.stdout


def test_status_says_what_is_missing_and_exits_3():
    out = run_cli("status", hide="torch,cv2,onnxruntime")
    assert out.returncode == 3, out.stdout + out.stderr
    assert "onnxruntime: missing: onnxruntime is not installed (runs the segmentation model)." in out.stdout
    assert "cv2 (opencv-python-headless): missing: opencv-python-headless is not installed" in out.stdout
    assert "numpy: " in out.stdout and " OK" in out.stdout.split("numpy: ")[1].splitlines()[0]
    assert "Traceback" not in out.stdout + out.stderr


def test_install_puts_a_real_package_into_the_target_and_status_finds_it(tmp_path):
    target = tmp_path / "deps"
    out = run_cli("install", "--target", str(target), "--package", "tomli-w")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (target / "tomli_w" / "__init__.py").is_file()
    assert not (target / "numpy").exists()
    status = run_cli("status", "--target", str(target), "--module", "tomli_w=tomli-w")
    assert status.returncode == 0, status.stdout
    line = [s for s in status.stdout.splitlines() if s.startswith("tomli_w")][0]
    assert line.startswith("tomli_w (tomli-w): 1.") and line.endswith(f"OK in {target}"), line
    assert run_cli("status", "--module", "tomli_w=tomli-w", "--target", str(tmp_path / "none")).returncode == 3


def test_install_without_network_gives_one_sentence(tmp_path):
    env = offline_env(PIP_INDEX_URL="http://127.0.0.1:9/simple", PIP_RETRIES="0", PIP_TIMEOUT="3")
    out = run_cli("install", "--quiet", "--target", str(tmp_path / "d"), "--package", "tomli-w", env=env)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert out.stderr.startswith("No network: the package index cannot be reached")


def _wheel(folder: Path, requires_python: str) -> None:
    name = "tinyavtest-1.0-py3-none-any.whl"
    with zipfile.ZipFile(folder / name, "w") as whl:
        whl.writestr("tinyavtest/__init__.py", "")
        info = "tinyavtest-1.0.dist-info/"
        whl.writestr(info + "METADATA", f"Metadata-Version: 2.1\nName: tinyavtest\nVersion: 1.0\n"
                                        f"Requires-Python: {requires_python}\n")
        whl.writestr(info + "WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        whl.writestr(info + "RECORD", "")


def test_install_for_an_incompatible_python_gives_one_sentence(tmp_path):
    links = tmp_path / "links"
    links.mkdir()
    _wheel(links, ">=4")
    env = offline_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(links))
    out = run_cli("install", "--quiet", "--target", str(tmp_path / "d"), "--package", "tinyavtest", env=env)
    assert out.returncode == 1
    assert out.stderr.strip() == installer.failure_reason("requires a different Python")
    assert out.stderr.startswith(f"Incompatible Python: no build of the package exists for Python "
                                 f"{sys.version_info.major}.{sys.version_info.minor}")


def test_failure_reasons_are_one_sentence_each():
    assert installer.failure_reason("OSError: [Errno 28] No space left on device").startswith("The disk is full")
    assert installer.failure_reason("ProxyError('Cannot connect to proxy.')").startswith("No network")
    assert installer.failure_reason("x\nERROR: something odd happened\n") == \
        "The installation failed: something odd happened."


def test_never_upgrades_qgis_numpy_and_digitising_needs_no_torch():
    import numpy
    assert f"numpy=={numpy.__version__}" in installer.constraints_text().splitlines()
    assert installer.default_packages("1.24.2") == ["onnxruntime", "opencv-python-headless<4.12"]
    assert installer.default_packages("2.1.0") == ["onnxruntime", "opencv-python-headless"]


def test_private_folder_is_in_the_qgis_profile_and_goes_last_on_sys_path(tmp_path, monkeypatch):
    plugin = tmp_path / "profiles" / "default" / "python" / "plugins" / "avalanche_iseg_plugin"
    plugin.mkdir(parents=True)
    monkeypatch.delenv(deps.TARGET_ENV, raising=False)
    folder = deps.private_dir(str(plugin))
    assert folder == str(tmp_path / "profiles" / "default" / "avalanche_iseg_deps" / deps.python_tag())
    assert deps.add_private_dir_to_path(folder) is None          # not created yet: nothing added
    os.makedirs(folder)
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert deps.add_private_dir_to_path(folder) == folder and sys.path[-1] == folder


def test_the_default_plugin_folder_is_the_plugin_package():
    """The private folder follows the plugin package's folder (in QGIS: <profile>/python/plugins/<plugin>),
    not the dependencies package inside it."""
    from avalanche_iseg_plugin.dependencies import folder

    assert Path(folder.PLUGIN_DIR) == REPO / "avalanche_iseg_plugin"
