"""The dependency dialog's installation runs as a QgsTask: a small real package from the configured index
lands in the target, the log file holds pip's output, the progress line says packages and megabytes, Remove
deletes it; a failing install shows its one sentence. Two steps: Digitising (ONNX Runtime + OpenCV) and the
optional PyTorch, whose CUDA build is offered only with a detected NVIDIA driver (named) and only when asked
for; the dialog fits a 1366×768 screen."""
import os
import time

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QCoreApplication

from avalanche_iseg_plugin.gui.setup.dependency_dialog import DependencyDialog, log_path


def _wait(dialog, timeout=240):
    end = time.monotonic() + timeout
    while dialog.task is not None and time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.05)
    assert dialog.task is None, "the installation task did not finish"


def test_install_task_puts_a_package_into_the_target_with_a_log(qgis_app, tmp_path):
    target = tmp_path / "deps" / "py"
    dialog = DependencyDialog(target=str(target), driver="", packages=["tomli-w"])
    assert not dialog.cuda_radio.isEnabled() and dialog.cpu_radio.isChecked()
    assert "no NVIDIA driver detected" in dialog.cuda_radio.text()
    dialog.start_install()
    assert not dialog.install_button.isEnabled() and dialog.cancel_button.isEnabled()
    _wait(dialog)
    assert (target / "tomli_w" / "__init__.py").is_file()
    assert dialog.progress.value() == 100 and dialog.result_label.text().startswith("Installed")
    assert dialog.progress_label.text().startswith("Step 1 of 1 (Python packages: tomli-w): Installed 1 packages (")
    log = open(log_path(str(target)), encoding="utf-8").read()
    assert "Successfully installed tomli-w" in log and dialog.log_button.isEnabled()
    assert dialog.remove_button.isEnabled()
    dialog.remove()
    assert not target.exists()
    dialog.deleteLater()


def test_failing_install_shows_its_sentence(qgis_app, tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    dialog = DependencyDialog(target=str(tmp_path / "d"), driver="Test GPU (driver 1.0)", packages=["tomli-w"])
    assert "NVIDIA GPU detected: Test GPU (driver 1.0)" in dialog.cuda_radio.text()
    dialog.start_install()
    _wait(dialog)
    assert dialog.result_label.text().startswith("No network: the package index cannot be reached")
    assert QgsApplication.taskManager().countActiveTasks() == 0
    dialog.deleteLater()


def test_cancel_stops_pip(qgis_app, tmp_path, monkeypatch):
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)                          # accepts connections, never answers: pip waits
    for name in [k for k in os.environ if k.startswith("PIP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{silent.getsockname()[1]}/simple")
    monkeypatch.setenv("PIP_TIMEOUT", "60")
    dialog = DependencyDialog(target=str(tmp_path / "d"), driver="", packages=["tomli-w"])
    dialog.start_install()
    end = time.monotonic() + 3
    while time.monotonic() < end:
        QCoreApplication.processEvents()
        time.sleep(0.05)
    started = time.monotonic()
    dialog.cancel()
    _wait(dialog, timeout=30)
    silent.close()
    assert time.monotonic() - started < 10
    assert dialog.result_label.text() == "The installation was cancelled; nothing already working was changed."
    dialog.deleteLater()


def test_two_steps_pytorch_optional_cuda_only_when_asked(qgis_app, tmp_path):
    from avalanche_iseg_plugin.dependencies import install as installer

    dialog = DependencyDialog(target=str(tmp_path / "d"), driver="Test GPU (driver 1.0)")
    assert "ONNX Runtime and OpenCV (about 95 MB" in dialog.digitising_check.text()
    from avalanche_iseg_plugin.gui.setup import dependency_dialog
    assert "PyTorch (optional)" in dialog.pytorch_check.text()
    assert "refinement modes, training and the NVIDIA GPU" in dependency_dialog.PYTORCH_NOTE
    assert not dialog.pytorch_check.isChecked() and not dialog.cuda_radio.isEnabled()
    assert "onnxruntime: " in dialog.status_label.text() and "torch: " in dialog.status_label.text()
    dialog.digitising_check.setChecked(True)
    assert dialog.steps() == [installer.digitising_step()]
    dialog.pytorch_check.setChecked(True)
    assert dialog.cuda_radio.isEnabled() and dialog.cpu_radio.isChecked()          # CPU unless asked
    assert [s.name for s in dialog.steps()] == ["digitising", "pytorch"]
    assert dialog.steps()[1].index_url == installer.PYTORCH_INDEX + "cpu"
    dialog.cuda_radio.setChecked(True)
    assert dialog.steps()[1] == installer.pytorch_step(cuda=True)
    dialog.digitising_check.setChecked(False)
    dialog.pytorch_check.setChecked(False)
    assert dialog.steps() == [] and not dialog.install_button.isEnabled()
    dialog.show()
    QCoreApplication.processEvents()
    size = dialog.frameGeometry().size().expandedTo(dialog.sizeHint())
    assert size.width() <= 1366 and size.height() <= 700, size
    assert dialog.height() >= dialog.sizeHint().height()        # no wrapped line cut off
    no_driver = DependencyDialog(target=str(tmp_path / "d"), driver="")
    no_driver.pytorch_check.setChecked(True)
    assert not no_driver.cuda_radio.isEnabled() and "no NVIDIA driver detected" in no_driver.cuda_radio.text()
    dialog.deleteLater()
    no_driver.deleteLater()
