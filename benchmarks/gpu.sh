#!/usr/bin/env bash
# Everything that needs a GPU, in one command: the CUDA-only tests, then each benchmark with the
# settings its section of benchmarks/README.md asks for. Each step has its own time limit and its
# own log, and a failing step does not stop the next. Copy the figures into benchmarks/README.md.
#
#   bash benchmarks/gpu.sh [LOGDIR]        (default LOGDIR: runs/gpu-benchmarks)
#
# Needs advgeom importable (pip install -e '.[test]') and, for the peer rows of the attack
# benchmark, torchattacks and Foolbox installed as benchmarks/README.md says.
set -u
cd "$(dirname "$0")/.."
logs=${1:-runs/gpu-benchmarks}
mkdir -p "$logs"
export PYTHONUNBUFFERED=1
python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null \
    || { echo "gpu.sh: this Python has no torch with a CUDA device: nothing to measure" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$logs/machine.txt"
failed=0

step() {  # step NAME SECONDS COMMAND...: run one step under a time limit, log it, note failure
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $*"
    timeout "$limit" "$@" 2>&1 | tee "$logs/$name.log"
    local rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || { echo "=== $name FAILED (exit $rc)"; failed=1; }
}

step cuda-tests 300 python -m pytest -q -p no:cacheprovider -rs tests/test_cuda.py
step attacks 600 python benchmarks/attacks.py --device cuda
step spheres 600 python benchmarks/spheres.py --device cuda --members 20 --steps 200 \
    --samples 10000000
step training-cnn 300 python benchmarks/training.py --device cuda --model cnn
step training-fc 300 python benchmarks/training.py --device cuda --model fc
step injectivity 300 python benchmarks/injectivity.py --device cuda
echo "logs in $logs"
exit $failed
