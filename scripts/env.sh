# Sourced by scripts/run.sh and scripts/test.sh: installs what the build needs, once, and
# exports LIBTORCH. Idempotent: a second run installs nothing.
#
#   * apt: libclang-dev (bindgen for hts-sys), zlib/bz2/lzma dev headers, pkg-config.
#   * libtorch: PyTorch 2.11.0 from pip into a venv in the cache folder outside the checkout
#     ($PEAKSCOPE_CACHE, default ~/.cache/peakscope), with numpy/scipy/pyBigWig used by the
#     reference-comparison tests, and the model packages the bring-your-own-model tests
#     build models with (bpnet-lite, chrombpnet-pytorch, enformer-pytorch, borzoi-pytorch),
#     installed with --no-deps next to their small import-time dependencies so that no second
#     torch is pulled in.
#   * A user's own LIBTORCH or LIBTORCH_USE_PYTORCH is honoured and nothing is installed.
set -euo pipefail

PEAKSCOPE_CACHE=${PEAKSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/peakscope}
export PEAKSCOPE_CACHE
TORCH_VERSION=2.11.0

ps_log() { echo "[peakscope setup] $*" >&2; }

ps_sudo() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ps_apt() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    ps_log "installing apt packages: ${missing[*]}"
    ps_sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive ps_sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ps_apt libclang-dev clang zlib1g-dev libbz2-dev liblzma-dev pkg-config make

if ! command -v cargo >/dev/null 2>&1; then
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || { ps_log "cargo not found: install Rust (https://rustup.rs) first"; exit 1; }

PS_VENV="$PEAKSCOPE_CACHE/py"
# model families for tests/model_families.rs, and what they import (pinned; --no-deps)
PS_MODEL_PACKAGES=(
  bpnet-lite==1.1.0 chrombpnet-pytorch==0.0.3 enformer-pytorch==0.8.12 borzoi-pytorch==0.5.1
  transformers==4.57.6 huggingface-hub==0.36.2 tokenizers==0.22.2 safetensors==0.8.0 regex==2026.11.19
  packaging==26.4 PyYAML==6.0.4 requests==2.34.2 urllib3==2.8.0 idna==3.20 certifi==2026.10.19.post1
  charset-normalizer==3.5.3 tqdm==4.70.1 einops==0.8.2 polars==2.1.0 polars-runtime-32==2.1.0
  pyfaidx==0.9.2.2 pandas==3.1.1 python-dateutil==4.0.0 six==1.17.0 tzdata==2026.6 intervaltree==3.2.1
  sortedcontainers==2.4.0 h5py==3.16.0 tangermeme==1.6.0 numba==0.68.1 llvmlite==0.50.0
  lightning==2.6.6 lightning-utilities==0.15.3 torchmetrics==1.9.0
)
ps_venv_ok() {
  "$PS_VENV/bin/python" - <<PY 2>/dev/null
import sys, torch, numpy, scipy, sklearn, pyBigWig
sys.exit(0 if torch.__version__.split("+")[0] == "$TORCH_VERSION" else 1)
PY
}
ps_models_ok() {
  "$PS_VENV/bin/python" - <<PY >/dev/null 2>&1
import warnings; warnings.simplefilter("ignore")
import sys, importlib.metadata as md
import bpnetlite, chrombpnet.chrombpnet, enformer_pytorch, borzoi_pytorch
want = {"bpnet-lite": "1.1.0", "chrombpnet-pytorch": "0.0.3", "enformer-pytorch": "0.8.12", "borzoi-pytorch": "0.5.1"}
sys.exit(0 if all(md.version(k) == v for k, v in want.items()) else 1)
PY
}

if [ -n "${LIBTORCH:-}" ]; then
  ps_log "using your LIBTORCH=$LIBTORCH"
elif [ -n "${LIBTORCH_USE_PYTORCH:-}" ]; then
  ps_log "using the PyTorch of $(command -v python3) (LIBTORCH_USE_PYTORCH is set)"
else
  if ! ps_venv_ok; then
    ps_log "installing PyTorch $TORCH_VERSION into $PS_VENV (once; ~5 GB, a few minutes)"
    mkdir -p "$PEAKSCOPE_CACHE"
    if ! python3 -m venv "$PS_VENV" 2>/dev/null; then
      ps_apt python3-venv
      python3 -m venv "$PS_VENV"
    fi
    "$PS_VENV/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION" numpy scipy scikit-learn pyBigWig
    ps_venv_ok || { ps_log "PyTorch install in $PS_VENV failed"; exit 1; }
  fi
  if ! ps_models_ok; then
    ps_log "installing the model packages of the bring-your-own-model tests into $PS_VENV (--no-deps)"
    "$PS_VENV/bin/pip" install -q --disable-pip-version-check --no-deps "${PS_MODEL_PACKAGES[@]}"
    ps_models_ok || { ps_log "installing the model packages in $PS_VENV failed"; exit 1; }
  fi
  LIBTORCH="$("$PS_VENV/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
  export LIBTORCH
  # reference implementations for the comparison tests (torch, scipy, pyBigWig)
  export PEAKSCOPE_PYTHON="${PEAKSCOPE_PYTHON:-$PS_VENV/bin/python}"
fi
