# Sourced by scripts/run.sh and scripts/test.sh: installs what the build needs, once, and
# exports LIBTORCH. Idempotent: a second run installs nothing.
#
#   * apt: libclang-dev (bindgen for hts-sys), zlib/bz2/lzma dev headers, pkg-config.
#   * libtorch: PyTorch 2.11.0 from pip into a venv in the cache folder outside the checkout
#     ($PEAKSCOPE_CACHE, default ~/.cache/peakscope), with numpy/scipy/pyBigWig used by the
#     reference-comparison tests.
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
ps_venv_ok() {
  "$PS_VENV/bin/python" - <<PY 2>/dev/null
import sys, torch, numpy, scipy, sklearn, pyBigWig
sys.exit(0 if torch.__version__.split("+")[0] == "$TORCH_VERSION" else 1)
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
  LIBTORCH="$("$PS_VENV/bin/python" -c 'import torch, os; print(os.path.dirname(torch.__file__))')"
  export LIBTORCH
  # reference implementations for the comparison tests (torch, scipy, pyBigWig)
  export PEAKSCOPE_PYTHON="${PEAKSCOPE_PYTHON:-$PS_VENV/bin/python}"
fi
