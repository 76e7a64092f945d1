#!/usr/bin/env bash
# Installs torch-scatter from a cached wheel, building (and caching) it when absent.
set -euo pipefail
cache="${PYG_NEGDIFF_WHEELS:-$HOME/.cache/pyg-negdiff/wheels}"
mkdir -p "$cache"
python -c "import torch_scatter" 2>/dev/null && { echo "ci: torch-scatter already installed"; exit 0; }
if ! ls "$cache"/torch_scatter-*.whl >/dev/null 2>&1; then
  echo "ci: building torch-scatter wheel into $cache (about 9 minutes on 2 cores)"
  MAX_JOBS="${MAX_JOBS:-2}" timeout 1500 python -m pip wheel -q torch-scatter \
    --no-build-isolation --no-deps -w "$cache"
fi
python -m pip install -q --no-index --find-links "$cache" torch-scatter
python -c "import torch_scatter; print('ci: torch-scatter', torch_scatter.__version__)"
