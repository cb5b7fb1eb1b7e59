import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def shared_path(*parts: str) -> Path:
    """A path under ../shared; skips the test with a clear reason when it is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared data: {path} is missing (see ../shared/README.md)")
    return path


@pytest.fixture
def shared():
    return shared_path


@pytest.fixture
def digitiser(qgis_iface, qgis_new_project, tmp_path):
    """The plugin on a real canvas with the stand-in predictor (test/canvas_driver.py), fresh settings.
    Test files that need another set-up define their own ``digitiser``."""
    from qgis.core import QgsSettings

    from canvas_driver import Digitiser
    QgsSettings().remove("avalanche_iseg")
    d = Digitiser(qgis_iface, tmp_path)
    yield d
    d.close()
    QgsSettings().remove("avalanche_iseg")


@pytest.fixture(autouse=True)
def _collect_qgis_objects():
    """Destroy Qt/QGIS objects left in reference cycles while QGIS is still up (not at interpreter exit,
    where destroying a QgsMapLayer after QgsApplication has gone crashes the process)."""
    yield
    import gc

    gc.collect()



def pytest_sessionfinish(session, exitstatus):
    session.config._avalanche_exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the process with pytest's own exit status once everything is reported and QGIS has exited.

    QGIS 3.22's C++ static destructors can crash at interpreter shutdown after Processing has run
    ("double free or corruption", SIGSEGV) — after every test has passed and exitQgis() has been called.
    Skipping those destructors keeps the exit status the test results', nothing else."""
    status = getattr(config, "_avalanche_exit_status", None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


@pytest.fixture
def provider(qgis_processing):
    """The plugin's Processing provider, registered; its segmenting algorithm uses the FakePredictor."""
    from qgis.core import QgsApplication

    from avalanche_iseg_plugin.toolbox.provider import AvalancheProvider
    from avalanche_iseg_plugin.toolbox.segment_algorithm import SegmentFromPointsAlgorithm
    from gis_fixtures import FakePredictor

    provider = AvalancheProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    SegmentFromPointsAlgorithm.predictor_factory = staticmethod(lambda c, d, t: FakePredictor(threshold=t))
    yield provider
    SegmentFromPointsAlgorithm.predictor_factory = None
    QgsApplication.processingRegistry().removeProvider(provider)
