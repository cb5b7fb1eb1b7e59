"""The interpreter for pip and the inference process is the one QGIS runs on — found by QGIS's own layout
on Windows/OSGeo4W, macOS and Linux — never a decoy ``python3`` first on PATH (today's defect: with pyenv
first on PATH, QGIS's embedded sys.executable named that shim and pip ran it)."""
from __future__ import annotations

import os
import stat
import sys

import pytest

from avalanche_iseg_plugin.dependencies import folder as dependency_folder
from avalanche_iseg_plugin.dependencies import install as installer

MAJOR, MINOR = sys.version_info[:2]


def _script(path, text="#!/bin/sh\nexit 0\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def decoy(tmp_path, monkeypatch):
    """A ``python3`` (and python/python.exe) first on PATH that leaves a mark when run."""
    mark = tmp_path / "decoy-ran"
    folder = tmp_path / "pyenv" / "shims"
    for name in ("python3", "python", f"python{MAJOR}.{MINOR}", "python.exe"):
        _script(folder / name, f"#!/bin/sh\ntouch '{mark}'\nexit 1\n")
    monkeypatch.setenv("PATH", str(folder) + os.pathsep + os.environ.get("PATH", ""))
    return folder, mark


def _qgis(monkeypatch, executable, prefix, platform="linux"):
    monkeypatch.setattr(sys, "executable", str(executable))
    for name in ("prefix", "exec_prefix", "base_prefix", "base_exec_prefix"):
        monkeypatch.setattr(sys, name, str(prefix))
    monkeypatch.setattr(sys, "platform", platform)


def test_linux_qgis_whose_sys_executable_is_the_decoy_on_path(tmp_path, monkeypatch, decoy):
    """Embedded Python in /usr/bin/qgis took the first python3 on PATH as sys.executable: the decoy."""
    shims, _ = decoy
    real = _script(tmp_path / "usr" / "bin" / f"python{MAJOR}.{MINOR}")
    _script(tmp_path / "usr" / "bin" / "qgis")
    _qgis(monkeypatch, shims / "python3", tmp_path / "usr")
    assert dependency_folder.python_executable() == str(real)


def test_linux_qgis_binary_as_sys_executable(tmp_path, monkeypatch, decoy):
    real = _script(tmp_path / "usr" / "bin" / f"python{MAJOR}")
    qgis = _script(tmp_path / "usr" / "bin" / "qgis")
    _qgis(monkeypatch, qgis, tmp_path / "usr")
    assert dependency_folder.python_executable() == str(real)


def test_osgeo4w_qgis_bin_exe(tmp_path, monkeypatch, decoy):
    """OSGeo4W / the standalone installer: <root>\\bin\\qgis-bin.exe, Python in <root>\\apps\\PythonXY."""
    root = tmp_path / "OSGeo4W"
    qgis = _script(root / "bin" / "qgis-bin.exe")
    python = _script(root / "apps" / f"Python{MAJOR}{MINOR}" / "python.exe")
    _qgis(monkeypatch, qgis, root / "apps" / f"Python{MAJOR}{MINOR}", platform="win32")
    assert dependency_folder.python_executable() == str(python)
    _qgis(monkeypatch, qgis, root, platform="win32")          # exec_prefix elsewhere: found beside QGIS
    assert dependency_folder.python_executable() == str(python)


def test_macos_qgis_app(tmp_path, monkeypatch, decoy):
    macos = tmp_path / "QGIS.app" / "Contents" / "MacOS"
    qgis = _script(macos / "QGIS")
    python = _script(macos / "bin" / "python3")
    _qgis(monkeypatch, qgis, tmp_path / "QGIS.app" / "Contents" / "Frameworks", platform="darwin")
    assert dependency_folder.python_executable() == str(python)


def test_a_python_running_from_its_own_folder_is_itself():
    """A plain or venv Python (tests, command lines) is its own interpreter."""
    assert dependency_folder.python_executable() == os.path.abspath(sys.executable)


def test_nothing_found_is_empty_never_the_path_decoy(tmp_path, monkeypatch, decoy):
    qgis = _script(tmp_path / "somewhere" / "qgis")
    _qgis(monkeypatch, qgis, tmp_path / "nothing-here")
    from avalanche_iseg_plugin.dependencies.interpreter import qgis_python
    assert qgis_python(version=(MAJOR, 99)) == ""


def test_pip_and_the_inference_process_run_the_chosen_interpreter(tmp_path, monkeypatch, decoy, qgis_app):
    from avalanche_iseg_plugin.gui.transport.process_transport import ProcessTransport

    shims, mark = decoy
    real = tmp_path / "usr" / "bin" / f"python{MAJOR}.{MINOR}"
    real.parent.mkdir(parents=True)
    real.symlink_to(os.path.realpath(sys.executable))
    _qgis(monkeypatch, shims / "python3", tmp_path / "usr")
    transport = ProcessTransport("process_fakes:fake_factory")
    assert transport.python == str(real)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    result = installer.install(str(tmp_path / "deps"), packages=["avalanche-no-such-package"])
    assert not result.ok and result.log[0].startswith(f"$ {real} -m pip install")
    assert "No matching distribution" in "\n".join(result.log) and not mark.exists()
