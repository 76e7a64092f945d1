#!/usr/bin/env bash
# Called by .ci/run: installs Debian's `chromium` for the docs browser test (tests/test_docs.py),
# unless a Chromium is already on PATH. Any failure exits non-zero and that test skips.
set -euo pipefail
for exe in chromium chromium-browser; do
  if command -v "$exe" >/dev/null 2>&1; then
    echo "ci: $("$exe" --version 2>/dev/null || echo "$exe") already installed"
    exit 0
  fi
done
echo "ci: installing chromium (Debian package)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
chromium --version
