#!/usr/bin/env bash
# Creates .venv in the repository and installs the pinned OpenMMLab stack into it, then this
# package in editable mode. Called by `make` only when .venv/.installed is older than the
# requirement files, so a second run with everything present costs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip "$@"; }
# PIP_FIND_LINKS may point at a local `torch+cpu` wheel that shadows the registry build
# torchvision needs; this install only ever uses the package registry.
unset PIP_FIND_LINKS
export PIP_DISABLE_PIP_VERSION_CHECK=1

pip install -q --upgrade "pip>=24"
pip install -q -r requirements/build.txt

if ! "$VENV/bin/python" -c "import mmcv, mmcv.ops" 2>/dev/null; then
    echo "[bootstrap] building mmcv 2.1.0 with its C++ ops (12-25 minutes on 2 cores, once per machine;"
    echo "[bootstrap] pip caches the wheel so later installs take seconds)"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} FORCE_CUDA=0 \
        pip install --no-build-isolation -r requirements/mminstall.txt
    "$VENV/bin/python" -c "import mmcv.ops" || { echo "mmcv was built without its ops" >&2; exit 1; }
fi

# One resolver pass over everything, so no later install can move a pin (numpy, setuptools).
# openmim 0.3.9 depends on opendatalab -> openxlab, which pin setuptools~=60.2, packaging~=24.0 and
# requests~=2.28: installing them would break torch and mmengine. `mim train/test/run` need none
# of that, so openmim goes in without its dependencies, next to the ones those commands use.
pip install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/optional.txt \
    -r requirements/mim.txt -r requirements/deploy.txt
pip install -q --no-deps "openmim==0.3.9"
# mmdeploy 1.3.1 declares protobuf<=3.20.2, which onnx 1.23 refuses; its export and onnxruntime
# paths need only what requirements/deploy.txt installs above.
pip install -q --no-deps "mmdeploy==1.3.1"
# The checkout itself on the venv's path, with its metadata beside it (what `setup.py develop`
# did): `pip install -e .` (PEP 660) puts the metadata in site-packages, and `mim search/train/test
# dfvt_mm` look for site-packages/dfvt_mm/.mim, which an editable install does not have (mim
# 0.3.9 joins the metadata's location with the package name). Here that location is the checkout,
# whose dfvt_mm/.mim holds links to configs/, tools/ and model-index.yml (setup.py egg_info).
pip uninstall -q -y dfvt_mm 2>/dev/null || true
"$VENV/bin/python" setup.py -q egg_info
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$PWD" > "$SITE/dfvt_mm.pth"
"$VENV/bin/python" -c "import torch, torchvision.ops, mmcv.ops, mmpretrain.models, mmdet.models, mmseg.models, dfvt_mm, mim, onnxruntime, mmdeploy.apis"
touch "$VENV/.installed"
echo "[bootstrap] environment ready in $VENV"
