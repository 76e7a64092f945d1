#!/usr/bin/env bash
# Installs an optional PyG extension (torch-scatter, torch-sparse) from a cached wheel,
# building (and caching) it when absent: PyPI has only their sources, and building takes
# minutes on 2 cores (torch-scatter ~5-9, torch-sparse ~20), so later runs reuse the wheel.
# Usage: bash .ci/pyg_wheel.sh torch-scatter [torch-sparse ...]
set -euo pipefail
cache="${PYG_NEGDIFF_WHEELS:-$HOME/.cache/pyg-negdiff/wheels}"
mkdir -p "$cache"
for pkg in "$@"; do
  module="${pkg//-/_}"
  if python -c "import $module" 2>/dev/null; then echo "ci: $pkg already installed"; continue; fi
  if ! ls "$cache"/"$module"-*.whl >/dev/null 2>&1; then
    echo "ci: building $pkg wheel into $cache"
    MAX_JOBS="${MAX_JOBS:-2}" FORCE_ONLY_CPU=1 timeout 2700 python -m pip wheel -q "$pkg" \
      --no-build-isolation --no-deps -w "$cache"
  fi
  # The cached wheel itself (a newer sdist on the index must not trigger a build here);
  # its dependencies (scipy for torch-sparse) come from the index.
  wheel=$(ls -t "$cache"/"$module"-*.whl | head -n 1)
  python -m pip install -q "$wheel"
  python -c "import $module; print('ci: $pkg', $module.__version__)"
done
