#!/bin/sh
# serving-gpu-check.sh: on a machine with an NVIDIA GPU, run the serving
# gateway's process-supervision test that starts a real GPU-visible
# process (it calls `nvidia-smi -L` under CUDA_VISIBLE_DEVICES=0 and must
# see exactly one GPU). Elsewhere the test skips itself.
set -eu
cd "$(dirname "$0")/.."
command -v nvidia-smi >/dev/null || { echo "no nvidia-smi: not a GPU machine" >&2; exit 2; }
nvidia-smi -L
exec go test -count=1 -run 'TestGPUProcessSeesItsGPU|TestProcessSupervision|TestGPURequestRefused' -v ./serving/
