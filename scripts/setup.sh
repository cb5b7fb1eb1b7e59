#!/usr/bin/env bash
# One-command setup on Debian 12: QGIS from Debian, a venv at .venv/ that sees QGIS, and the Python
# requirements with the version constraints QGIS needs. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."
fail() { echo "setup: $*" >&2; exit 1; }

APT_PACKAGES="python3-qgis qgis-providers python3-scipy python3-venv python3-pip xvfb xauth"
missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  command -v apt-get >/dev/null || fail "apt-get not found: this setup needs Debian 12 (or a Debian-based system) to install QGIS."
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || fail "installing${missing} needs root: run as root or install sudo."
    SUDO="sudo"
  fi
  echo "setup: installing${missing} with apt (about a minute)"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null || fail "apt-get update failed: check the network or the apt sources."
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || fail "apt-get install of${missing} failed."
fi

/usr/bin/python3 -c "import qgis.core" 2>/dev/null || fail "Debian's python3 cannot import qgis.core after installing python3-qgis."

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv from /usr/bin/python3 (with system site packages, so qgis imports)"
  /usr/bin/python3 -m venv --system-site-packages .venv || fail "could not create .venv (is python3-venv installed?)"
fi

# Keep QGIS's numpy (its GDAL bindings are built for numpy 1.x).
NUMPY_VERSION=$(/usr/bin/python3 -c "import numpy; print(numpy.__version__)") \
  || fail "Debian's numpy is missing (it comes with python3-qgis)."
mkdir -p .venv/setup
printf 'numpy==%s\n' "$NUMPY_VERSION" > .venv/setup/constraints.txt

stamp=.venv/setup/requirements.sha
want=$(cat requirements.txt .venv/setup/constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing requirements.txt into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt \
    -c .venv/setup/constraints.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) \
    || fail "pip install -r requirements.txt failed (see the pip output above)."
  echo "$want" > "$stamp"
fi
.venv/bin/python -c "import torch, numpy, qgis.core, rasterio, shapely, cv2, onnxruntime, onnx, pycocotools" \
  || fail "the venv cannot import torch/numpy/qgis/rasterio/shapely/cv2/onnxruntime/onnx/pycocotools after installing."
echo "setup: done. Run the tests with: bash scripts/test.sh"
