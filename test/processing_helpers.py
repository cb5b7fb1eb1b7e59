"""A Processing feedback that keeps the errors and progress values an algorithm reports (tests)."""
from qgis.core import QgsProcessingFeedback


class Feedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.errors, self.progress = [], []
        self.progressChanged.connect(self.progress.append)

    def reportError(self, error, fatalError=False):  # noqa: N802, N803
        self.errors.append(error)
