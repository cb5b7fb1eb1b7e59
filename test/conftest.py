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


@pytest.fixture(autouse=True)
def _collect_qgis_objects():
    """Destroy Qt/QGIS objects left in reference cycles while QGIS is still up (not at interpreter exit,
    where destroying a QgsMapLayer after QgsApplication has gone crashes the process)."""
    yield
    import gc

    gc.collect()
