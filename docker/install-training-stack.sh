#!/bin/sh
# Installs the training stack into /opt/venv during `docker build` (CPU and GPU images alike):
# the pins of constraints.txt, the packages of requirements-train.txt, gluoncv with --no-deps
# (its runtime deps are pinned in the requirements, so pip never pulls a GUI OpenCV).
# Usage: install-training-stack.sh PYTHON REQUIREMENTS_DIR [MXNET_PACKAGE]
#   MXNET_PACKAGE replaces `mxnet` (e.g. mxnet-cu117 for the GPU image); its pin must be in
#   constraints.txt too.
set -eu

PYTHON=$1
REQ=$2
MXNET_PACKAGE=${3:-mxnet}

"$PYTHON" -m venv /opt/venv
sed "s/^mxnet\$/$MXNET_PACKAGE/" "$REQ/requirements-train.txt" > "$REQ/requirements-image.txt"
grep -qx "$MXNET_PACKAGE" "$REQ/requirements-image.txt"
grep -q "^$MXNET_PACKAGE==" "$REQ/constraints.txt" || {
  echo "$MXNET_PACKAGE has no pin in constraints.txt" >&2; exit 1; }

/opt/venv/bin/pip install -c "$REQ/constraints.txt" -r "$REQ/requirements-image.txt"
/opt/venv/bin/pip install --no-deps -c "$REQ/constraints.txt" gluoncv
# Smoke check of the native libraries. A CUDA build of MXNet needs the driver's libcuda at import
# time, which only `docker run --gpus` provides, so it is checked on GPU hosts (make gpu-test).
if [ "$MXNET_PACKAGE" = mxnet ]; then
  /opt/venv/bin/python -c "import mxnet, gluoncv, cv2"
fi

# The libraries' own test suites (numpy/scipy/pandas/matplotlib `tests` packages, ~90 MB) are
# never imported at run time.
find /opt/venv/lib -type d -name tests -prune -exec rm -rf {} +
rm -rf "$REQ" /root/.cache
