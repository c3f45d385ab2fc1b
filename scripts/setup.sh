#!/usr/bin/env bash
# One-time set-up, safe to re-run: a virtual environment in .venv with flowstyle
# (editable) and its test extras, then the pinned weights downloaded, verified by
# sha256 and converted (flowstyle weights fetch). Used by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# torch first and pinned: 2.13.0 is the CPU wheel these machines hold locally; an
# unpinned torch pulled in as a dependency would fetch a multi-GB CUDA build.
TORCH_SPEC=${FLOWSTYLE_TORCH_SPEC:-torch==2.13.0}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
VPY=.venv/bin/python
stamp=.venv/.flowstyle-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$VPY" -m pip install -q --disable-pip-version-check "$TORCH_SPEC"
  "$VPY" -m pip install -q --disable-pip-version-check -e ".[test]"
  touch "$stamp"
fi
.venv/bin/flowstyle weights fetch
# The studio's browser test drives Debian's chromium (Playwright's own browser
# download is blocked here; issue #15). Root installs it; elsewhere the test skips.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -q && apt-get install -y -q chromium) >/dev/null 2>&1 || echo "setup.sh: could not install chromium; the browser test will skip" >&2
fi
