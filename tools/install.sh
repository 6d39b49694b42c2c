#!/usr/bin/env bash
# Install mmseg-al and its tested stack into the current Python environment.
#
#   bash tools/install.sh [--tests] [--find-links DIR]
#
# 1. torch 2.13.0 (skipped when a torch is already installed; set
#    TORCH_SPEC, e.g. TORCH_SPEC="torch==2.13.0 --index-url ...", to choose
#    a GPU build),
# 2. mmcv 2.1.0 *with compiled ops* built against that torch
#    (--no-build-isolation); a wheel in --find-links DIR is used when
#    present, otherwise it is built from source (about 25 minutes on 2
#    cores),
# 3. mmseg-al itself (editable) with its pinned requirements; --tests adds
#    the test requirements (with the web annotator's server and the browser
#    driver of its test).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
EXTRAS=""
FIND_LINKS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) EXTRAS="[tests]" ;;
    --find-links) FIND_LINKS=(--find-links "$(cd "$2" && pwd)"); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PIP=("$PYTHON" -m pip install --disable-pip-version-check -q)

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  echo "[install] torch (${TORCH_SPEC:-torch==2.13.0})"
  # shellcheck disable=SC2086
  "${PIP[@]}" ${TORCH_SPEC:-torch==2.13.0}
fi

if ! "$PYTHON" -c "import mmcv, sys; from mmcv.ops import point_sample; sys.exit(mmcv.__version__ != '2.1.0')" 2>/dev/null; then
  echo "[install] mmcv 2.1.0 with compiled ops (from a cached wheel if given, else a source build)"
  # mmcv's setup.py imports pkg_resources, which setuptools 82 removed;
  # torch 2.13 requires setuptools>=77.0.3: this range satisfies both
  "${PIP[@]}" "setuptools>=77.0.3,<82" wheel numpy
  MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} MAX_JOBS=${MAX_JOBS:-2} \
    "${PIP[@]}" --no-build-isolation "${FIND_LINKS[@]}" mmcv==2.1.0
  "$PYTHON" -c "from mmcv.ops import point_sample" || {
    echo "[install] mmcv was installed without its compiled ops; see README 'Installation'" >&2; exit 1; }
fi

echo "[install] mmseg-al${EXTRAS}"
"${PIP[@]}" --no-build-isolation "${FIND_LINKS[@]}" -e ".${EXTRAS}"
"$PYTHON" -c "import mmseg_al; print('[install] mmseg-al', mmseg_al.__version__, 'ready')"
