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
  # pytest's "no tests were collected": say so plainly instead of failing obscurely.
  echo "test.sh: pytest collected no tests (exit 5)" >&2
  exit 0
fi
exit "$rc"
