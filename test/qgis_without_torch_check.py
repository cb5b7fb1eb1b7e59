"""Run by test_dependency_prompt.py in a child Python where torch, cv2 and onnxruntime are hidden (hidden_modules.py):
the plugin loads in QGIS and its first use shows the "install dependencies" dialog. Not collected on
its own (no test_ prefix)."""
import importlib.util

from qgis.PyQt.QtWidgets import QApplication

from avalanche_iseg_plugin.gui.setup.dependency_dialog import DependencyDialog
from avalanche_iseg_plugin.gui.plugin import AvalancheIsegPlugin


def test_first_use_offers_to_install_torch_and_opencv(qgis_iface):
    assert importlib.util.find_spec("torch") is None and importlib.util.find_spec("cv2") is None
    assert importlib.util.find_spec("onnxruntime") is None
    qgis_iface.mainWindow().show()
    plugin = AvalancheIsegPlugin(qgis_iface)
    plugin.initGui()
    plugin.run()
    dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, DependencyDialog) and w.isVisible()]
    assert len(dialogs) == 1
    dialog = dialogs[0]
    assert dialog is plugin.dependency_dialog
    assert "needs Python packages that QGIS does not have: onnxruntime, opencv-python-headless" in \
        dialog.summary.text()
    assert "torch: missing" in dialog.status_label.text()
    assert dialog.digitising_check.isChecked() and not dialog.pytorch_check.isChecked()   # PyTorch optional
    assert dialog.install_button.text() == "Install" and dialog.install_button.isEnabled()
    assert dialog.cpu_radio.isChecked() != dialog.cuda_radio.isChecked()
    assert plugin.dock.isVisible()                       # the dock opens all the same
    plugin.dock.dependencies_button.click()              # the dock's button shows the same dialog
    assert plugin.dependency_dialog is dialog and dialog.isVisible()
    plugin.unload()
