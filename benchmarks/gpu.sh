#!/usr/bin/env bash
# The benchmarks' GPU parts on a CUDA machine that has PyTorch but no network: the Python packages such an image may
# lack (or hold in older versions) travel as wheels in .whl/ (git-ignored) beside the working tree.
#
#   bash benchmarks/gpu.sh wheels                  # where pip reaches PyPI: transformers, diffusers, fastcore -> .whl/
#   bash benchmarks/gpu.sh run label [ARGS...]     # on the GPU machine: install .whl/ into /tmp/site (if present), then
#   bash benchmarks/gpu.sh run encoder|model|train|adapter [ARGS...]      # run that benchmark (ARGS go to it);
#                                                  # its output is also written to $OUT/NAME.log (default runs/gpu/)
#
# Each benchmark's GPU table is what benchmarks/RESULTS.md asks for. None has run on a GPU yet, so their times are
# unknown: where a call is capped (say at 10 minutes), split the label benchmark by batch size
# (--batch-sizes 8, then --batch-sizes 32) or shorten it (--gpu-rows 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="transformers==5.23.0 diffusers==0.42.1 fastcore==1.14.5 importlib_metadata==8.7.0"
PY=${PYTHON:-python3}
case "${1:-}" in
  wheels)
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version "${WHEEL_PYTHON:-3.12}" --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl $WHEELS
    ls -la .whl ;;
  run)
    name=${2:?"which benchmark: label, encoder, model, train or adapter"}; shift 2
    case $name in label|encoder|model|train|adapter) ;; *) echo "unknown benchmark '$name': label, encoder, model, train or adapter" >&2; exit 2 ;; esac
    if compgen -G ".whl/*.whl" > /dev/null; then
      $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
      export PYTHONPATH=/tmp/site:$PWD
    else export PYTHONPATH=$PWD; fi
    out=${OUT:-runs/gpu}; mkdir -p "$out"; log="$out/$name.log"; export PYTHONUNBUFFERED=1 TQDM_DISABLE=1
    { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
      $PY -c 'import torch, transformers, diffusers; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), "transformers", transformers.__version__, "diffusers", diffusers.__version__)'
      echo "command: benchmarks/$name.py $*"; } 2>&1 | tee "$log"
    extra=(); [ "$name" = label ] && extra=(--skip-cpu); [ "$name" = train ] && extra=(--gpu-only)
    set -o pipefail; $PY "benchmarks/$name.py" "${extra[@]}" "$@" 2>&1 | tee -a "$log" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
