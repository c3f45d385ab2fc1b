#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
set +e
.venv/bin/python -m pytest -q "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  # pytest's "no tests were collected": a run that tested nothing is a failure, not a pass.
  echo "test.sh: error: pytest collected no tests (exit 5)" >&2
fi
exit "$rc"
