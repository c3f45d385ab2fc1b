"""The studio over real HTTP (uvicorn on a free port) and in a real browser (Debian's chromium via Playwright).

Issue #15: upload a clip made with PyAV, probe, preview, render to completion,
cancel, download, eval, the live MJPEG stream (read back with PyAV's mpjpeg
demuxer), token enforcement, and refusals of non-media, oversize uploads and
path traversal. Clips are tiny (64x36, a dozen frames) so the file stays fast.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import json
import time
import urllib.parse
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from flowstyle.errors import FlowstyleError
from flowstyle.regions.composite import region_options
from flowstyle.render import RenderConfig
from flowstyle.studio.app import StudioOptions, check_bind
from flowstyle.studio.live import TEST_SOURCE
from flowstyle.studio.server import StudioServer, with_token
from flowstyle.studio.settings import job_config
from flowstyle.stylize.keyframes import KeyframeOptions

from synth import write_clip

CHROMIUM = Path("/usr/bin/chromium")
LIMIT = 4 * 1024 * 1024


class Client:
    """Raw HTTP to the studio: paths are sent exactly as written (no client-side normalising of ``../``)."""

    def __init__(self, server: StudioServer, token: str | None = None) -> None:
        self.port = server.port
        self.token = token

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
        if self.token:
            path += ("&" if "?" in path else "?") + "token=" + urllib.parse.quote(self.token)
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
        finally:
            conn.close()

    def json(self, method: str, path: str, body: bytes | dict | None = None) -> dict:
        status, data, _ = self.request(method, path, body)
        assert status == 200, (status, data[:300])
        return json.loads(data)

    def upload(self, path: Path, name: str | None = None) -> dict:
        return self.json("POST", f"/api/uploads?name={urllib.parse.quote(name or path.name)}", path.read_bytes())


@pytest.fixture(scope="module")
def server():
    with StudioServer(StudioOptions(upload_limit=LIMIT)) as s:
        yield s


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """12 frames of 64x36 at 25 fps with 0.5 s of AAC audio."""
    path = tmp_path_factory.mktemp("studio") / "demo clip.mp4"
    return write_clip(path, range(12), Fraction(1, 25), size=(64, 36), audio_seconds=0.5)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """Long enough to be cancelled mid-render."""
    path = tmp_path_factory.mktemp("studio") / "long.mp4"
    return write_clip(path, range(400), Fraction(1, 25), size=(160, 96))


@pytest.fixture(scope="module")
def painting(tmp_path_factory) -> Path:
    """A striped picture as the uploaded painting (PNG)."""
    y, x = np.mgrid[0:128, 0:128]
    rgb = np.stack([(np.sin(x / 4) > 0) * 230, (np.sin((x + y) / 7) > 0) * 200, np.full_like(x, 60)], -1)
    path = tmp_path_factory.mktemp("studio") / "stripes.png"
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def wait_for(job_id: str, client: Client, states=("done", "failed", "cancelled"), timeout: float = 60) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.json("GET", f"/api/jobs/{job_id}")
        if job["state"] in states:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")


def decode(path_or_bytes) -> tuple[int, bool]:
    """(video frames, has audio) of a file or bytes."""
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else str(path_or_bytes)
    with av.open(src) as c:
        audio = bool(c.streams.audio)
        return sum(1 for _ in c.decode(video=0)), audio


def test_upload_probe_and_preview(server, clip):
    c = Client(server)
    up = c.upload(clip)
    assert (up["kind"], up["width"], up["height"], up["frames"]) == ("video", 64, 36, 12)
    assert up["fps"] == pytest.approx(25) and up["audio"] and up["audio"][0].startswith("aac")
    status, original, _ = c.request("GET", f"/api/uploads/{up['id']}/frame.jpg?index=5")
    assert status == 200
    status, styled, headers = c.request("POST", f"/api/uploads/{up['id']}/preview.jpg?index=5",
                                        {"style": "7", "strength": 1.0})
    assert status == 200 and headers["content-type"] == "image/jpeg"
    a = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"), dtype=np.float32)
    b = np.asarray(Image.open(io.BytesIO(styled)).convert("RGB"), dtype=np.float32)
    assert a.shape == b.shape == (36, 64, 3)
    assert np.abs(a - b).mean() > 10  # stylized, not the frame passed through
    status, same, _ = c.request("POST", f"/api/uploads/{up['id']}/preview.jpg?index=5", {"style": "7", "strength": 0.0})
    assert np.abs(np.asarray(Image.open(io.BytesIO(same)).convert("RGB"), dtype=np.float32) - a).mean() < 3


def test_render_job_progress_download_and_eval(server, clip):
    c = Client(server)
    up = c.upload(clip)
    job = c.json("POST", "/api/jobs", {"input": up["id"], "style": "3", "temporal": "flow", "width": 64})
    assert job["state"] in ("queued", "running")
    status, body, headers = c.request("GET", f"/api/jobs/{job['id']}/events")  # SSE until the job ends
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in body.decode().splitlines() if line.startswith("data: ")]
    assert events[-1]["state"] == "done" and events[-1]["fraction"] == 1.0 and events[-1]["done"] == 12
    done = [e["done"] for e in events]
    assert done == sorted(done) and all(e["total"] in (None, 12) for e in events if e["done"])
    status, data, headers = c.request("GET", f"/api/jobs/{job['id']}/download")
    assert status == 200 and "demo_clip-stylized.mp4" in headers["content-disposition"]
    assert decode(data) == (12, True)  # every frame, audio kept
    ev = c.json("POST", f"/api/jobs/{job['id']}/eval")
    assert ev["frames"] == 12 and 0 < ev["ewarp"] < 1 and len(ev["per_frame"]["ewarp"]) == 11
    status, png, _ = c.request("GET", f"/api/jobs/{job['id']}/ewarp.png")
    assert status == 200 and png.startswith(b"\x89PNG")
    assert any(j["id"] == job["id"] for j in c.json("GET", "/api/jobs"))  # the list a reloaded page reads
    folder = server.app.state.tmp / "jobs" / job["id"]
    assert folder.is_dir()
    c.json("DELETE", f"/api/jobs/{job['id']}")
    assert not folder.exists()  # deleting a job removes its files


def test_gatys_job_from_the_page_settings(server, clip, painting):
    """method=gatys with an uploaded painting runs render_gatys end to end (few iterations)."""
    c = Client(server)
    up, pic = c.upload(clip), c.upload(painting)
    job = c.json("POST", "/api/jobs", {"input": up["id"], "style": f"upload:{pic['id']}", "method": "gatys",
                                       "iterations": 3, "width": 64})
    job = wait_for(job["id"], c, timeout=300)
    assert job["state"] == "done" and job["method"] == "gatys", job
    # The page sees the painting's stored name, never where the server keeps it.
    assert str(server.app.state.tmp) not in json.dumps(job) and job["config"]["gatys"]["style"].endswith(".png")
    status, data, _ = c.request("GET", f"/api/jobs/{job['id']}/download")
    assert status == 200 and decode(data) == (12, True)
    c.json("DELETE", f"/api/jobs/{job['id']}")

    # "Paint every Nth frame" with method gatys: full Gatys keys, the frames between stop at their style loss.
    keyed = c.json("POST", "/api/jobs", {"input": up["id"], "style": f"upload:{pic['id']}", "method": "gatys",
                                         "iterations": 3, "width": 64, "keyframes_every": 6})
    keyed = wait_for(keyed["id"], c, timeout=300)
    assert keyed["state"] == "done" and keyed["gatys_keys"]["every"] == 6, keyed
    status, data, _ = c.request("GET", f"/api/jobs/{keyed['id']}/download")
    assert status == 200 and decode(data) == (12, True)


def test_editing_codecs_from_the_page(server, clip):
    """The page's output list reaches issue #13's codecs: ProRes HQ in a .mov, audio kept."""
    c = Client(server)
    up = c.upload(clip)
    assert ".mov:prores:hq" in [o[0] for o in c.json("GET", "/api/info")["choices"]["outputs"]]
    job = c.json("POST", "/api/jobs", {"input": up["id"], "style": "3", "temporal": "none", "width": 64,
                                       "output": ".mov:prores:hq"})
    job = wait_for(job["id"], c, timeout=120)
    assert job["state"] == "done" and job["output"] == ".mov", job
    status, data, headers = c.request("GET", f"/api/jobs/{job['id']}/download")
    assert status == 200 and headers["content-disposition"].endswith('.mov"')
    with av.open(io.BytesIO(data)) as f:
        v = f.streams.video[0]
        assert v.codec_context.name == "prores" and v.format.name == "yuv422p10le" and f.streams.audio
    c.json("DELETE", f"/api/jobs/{job['id']}")


# --- regions and style keys from the page (issue #16) --------------------------------------

STORED = {"ab": "/srv/uploads/ab.png", "mm": "/srv/uploads/mm.mkv"}  # upload id -> stored file, as the app's lookups


def test_page_regions_and_keys_are_the_clis():
    """The form's regions, feather, matte and key rows make the very options the CLI's flags make (its own
    region_options and KeyframeOptions, given the same items with the uploads' stored paths)."""
    paint = lambda uid: STORED.get(uid) if uid == "ab" else None  # noqa: E731
    video = lambda uid: STORED.get(uid) if uid == "mm" else None  # noqa: E731
    config = job_config({"style": "3", "person": "none", "background": "upload:ab:0.5,7:0.5", "feather": "2.5",
                         "style_at": [["0s", "7"], ["", ""], ["00:00:00:06", "upload:ab"]],  # an empty row is dropped
                         "strength_at": [["0", "1"], ["0.4s", "0.5"]], "key_interpolation": "smooth"}, paint, video)
    assert isinstance(config, RenderConfig)
    # flowstyle render ... --region person=none --region background=ab.png:0.5,7:0.5 --feather 2.5
    #     --style-at 0s=7 --style-at 00:00:00:06=ab.png --strength-at 0=1 --strength-at 0.4s=0.5 --key-interpolation smooth
    assert config.regions == region_options(["person=none", "background=/srv/uploads/ab.png:0.5,7:0.5"], feather=2.5)
    assert config.keys == KeyframeOptions(("0s=7", "00:00:00:06=/srv/uploads/ab.png"), ("0=1", "0.4s=0.5"), "smooth")
    # --region person=none --region-at background@0=7 --region-at background@8=ab.png
    config = job_config({"person": "none", "region_at": [["background", "0", "7"], ["background", "8", "upload:ab"]]},
                        paint, video)
    assert config.regions == region_options(["person=none"], region_at=["background@0=7", "background@8=/srv/uploads/ab.png"])
    assert config.keys == KeyframeOptions()
    # --matte mm.mkv --matte-fit --region-at matte@0=7 --region-at matte@8=none... (none is no key: see the refusals)
    config = job_config({"matte": "upload:mm", "matte_fit": True, "region_at": [["matte", "0", "7"], ["matte", "8", "3"]]},
                        paint, video)
    assert config.regions == region_options(matte="/srv/uploads/mm.mkv", matte_fit=True,
                                            region_at=["matte@0=7", "matte@8=3"])
    assert job_config({"matte": "alpha", "matte_style": "none"}, paint, video).regions == region_options(
        matte="alpha", matte_style="none")
    assert job_config({"style": "3"}, paint, video) == job_config({"style": "3", "person": "", "feather": "",
                                                                  "style_at": [], "region_at": None}, paint, video)


@pytest.mark.parametrize("fields, needles", [
    ({"person": "none", "region_at": [["face", "0", "7"]]}, ("region_at: ", "unknown region 'face'")),
    ({"background": "7", "region_at": [["background", "0", "3"]]}, ("region_at: ", "both a style (7) and keys")),
    ({"region_at": [["person", "0", "7"], ["person", "8", "none"]]}, ("region_at: ", "person=none")),
    ({"region_at": [["background", "0.2s", "7"], ["background", "3", "3"]]},
     ("region_at: background: ", "out of order")),
    ({"style_at": [["0s", "7"], ["5s", "3"]]}, ("style_at: ", "outside the clip (0.48 s long)")),
    ({"style_at": [["later", "7"]]}, ("style_at: ", "'later' is not a position")),
    ({"style_at": [["4", ""]]}, ("style_at: ", "expected TIME=VALUE")),
    ({"strength_at": [["0", "2"]]}, ("strength_at: ", "between 0 and 1")),
    ({"style_at": [["0", "7"]], "key_interpolation": "cubic"}, ("interpolation: ", "unknown interpolation 'cubic'")),
    ({"person": "none", "feather": "soft"}, ("feather: ", "expected a number, got 'soft'")),
    ({"person": "none", "feather": -2}, ("feather: ", "must be >= 0")),
    ({"matte": "upload:" + "0" * 32}, ("matte: ", "choose an uploaded matte video or alpha")),
    ({"matte_style": "3"}, ("matte_style: ", "needs a matte")),
    ({"method": "gatys", "style": "a.png", "background": "7"}, ("method: ", "feedforward only")),
    ({"method": "gatys", "style": "a.png", "style_at": [["0", "7"]]}, ("method: ", "feedforward only")),
    ({"in_point": "40"}, ("in_point: ", "--in 40 (frame 40) is past the clip's last frame (12 frames)")),
    ({"in_point": "5", "out_point": "3"}, ("out_point: ", "--in 5 (frame 5) must come before --out 3 (frame 3)")),
    ({"out_point": "1s"}, ("out_point: ", "--out 1s (frame 25) is past the clip's end (12 frames)")),
    ({"in_point": "soon"}, ("--in", "soon")),
    ({"network": "steady"}, ("network: ", "unknown network 'steady'")),
], ids=["unknown-region", "style-and-keys", "none-key", "region-keys-order", "outside", "no-position",
        "no-value", "strength", "interpolation", "feather-text", "feather-negative", "matte", "matte-style",
        "gatys-regions", "gatys-keys", "in-past-end", "out-before-in", "out-past-end", "in-no-position",
        "network"])
def test_bad_region_and_key_values_are_one_line_naming_the_field(server, clip, fields, needles):
    """Refused when the job is submitted (keys checked against the clip: 12 frames, 0.48 s), as the CLI refuses
    them: one line that starts with the field's name; no job is made."""
    c = Client(server)
    up = c.upload(clip)
    before = len(c.json("GET", "/api/jobs"))
    status, body, _ = c.request("POST", "/api/jobs", {"input": up["id"], "style": "3", "width": 64} | fields)
    error = json.loads(body)["error"]
    assert status == 400 and "\n" not in error and error.startswith(needles[0]), error
    assert all(n in error for n in needles), error
    assert len(c.json("GET", "/api/jobs")) == before


def test_region_keys_job_hides_server_paths(server, clip, painting):
    """A job whose keys name an uploaded painting shows its file name only (``background@0=ab12.png``)."""
    c = Client(server)
    up, pic = c.upload(clip), c.upload(painting)
    job = c.json("POST", "/api/jobs", {"input": up["id"], "style": "3", "width": 64, "temporal": "none",
                                       "person": "none", "style_at": [["0", f"upload:{pic['id']}"]],
                                       "region_at": [["background", "0", "7"], ["background", "8", f"upload:{pic['id']}"]]})
    assert str(server.app.state.tmp) not in json.dumps(job)
    assert job["config"]["regions"]["region_at"] == ["background@0=7", f"background@8={pic['id']}.png"]
    assert job["config"]["keys"]["style_at"] == [f"0={pic['id']}.png"]
    job = wait_for(job["id"], c, timeout=120)
    assert job["state"] == "done", job
    status, data, _ = c.request("GET", f"/api/jobs/{job['id']}/download")
    assert status == 200 and decode(data) == (12, True)
    c.json("DELETE", f"/api/jobs/{job['id']}")


def test_matte_job_from_an_uploaded_video(server, clip, tmp_path):
    """An uploaded grey matte video (left half white) with matte_style none: the left half is as filmed, the right
    stylized (FFV1 out, so the comparison is not blurred by H.264); the preview shows the matte and the keys too."""
    half = np.zeros((36, 64), np.uint8)
    half[:, :32] = 255
    matte = tmp_path / "matte.mkv"
    with av.open(str(matte), "w") as out:
        s = out.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 64, 36, "gray"
        for _ in range(12):
            out.mux(s.encode(av.VideoFrame.from_ndarray(half, format="gray")))
        out.mux(s.encode())
    c = Client(server)
    up, m = c.upload(clip), c.upload(matte)

    def preview(form: dict, index: int) -> np.ndarray:
        status, data, _ = c.request("POST", f"/api/uploads/{up['id']}/preview.jpg?index={index}", form)
        assert status == 200, data
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32)

    # The preview shows the matte as the render does (it showed the main style only before).
    status, original, _ = c.request("GET", f"/api/uploads/{up['id']}/frame.jpg?index=4")
    frame = np.asarray(Image.open(io.BytesIO(original)).convert("RGB"), dtype=np.float32)
    d = np.abs(preview({"style": "7", "matte": f"upload:{m['id']}", "matte_style": "none"}, 4) - frame)
    # Measured (both JPEG): left 0.0 levels on average, right 58.6.
    assert d[:, :28].mean() < 6 and d[:, 36:].mean() > 25
    # Keys: at a key the preview is that key's style alone (0.0 levels measured; 77 from the main style at 8).
    keyed = {"style": "7", "style_at": [["0", "7"], ["8", "3"]], "key_interpolation": "linear"}
    for index, style in ((0, "7"), (8, "3")):
        assert np.abs(preview(keyed, index) - preview({"style": style}, index)).mean() < 1.5
    assert np.abs(preview(keyed, 8) - preview({"style": "7"}, 8)).mean() > 10  # and not the main style

    job = c.json("POST", "/api/jobs", {"input": up["id"], "style": "7", "temporal": "none", "output": ".mkv:ffv1",
                                       "matte": f"upload:{m['id']}", "matte_style": "none"})
    assert job["config"]["regions"]["matte"] == f"{m['id']}.mkv"  # the stored name, never the server's path
    job = wait_for(job["id"], c, timeout=120)
    assert job["state"] == "done", job
    status, data, _ = c.request("GET", f"/api/jobs/{job['id']}/download")
    with av.open(io.BytesIO(data)) as styled, av.open(str(clip)) as original:
        pairs = list(zip(styled.decode(video=0), original.decode(video=0)))
    assert len(pairs) == 12
    for a, b in pairs:
        d = np.abs(a.to_ndarray(format="rgb24").astype(np.int16) - b.to_ndarray(format="rgb24"))
        # Measured: left (as filmed) max 0 levels; right (style 7) mean 51-63 levels.
        assert d[:, :30].max() <= 1 and d[:, 34:].mean() > 25
    c.json("DELETE", f"/api/jobs/{job['id']}")


def test_cancel_leaves_no_output(server, long_clip):
    c = Client(server)
    up = c.upload(long_clip)
    job = c.json("POST", "/api/jobs", {"input": up["id"], "style": "5", "temporal": "flow"})
    wait_for(job["id"], c, states=("running",))
    end = time.monotonic() + 30
    while c.json("GET", f"/api/jobs/{job['id']}")["done"] < 2 and time.monotonic() < end:
        time.sleep(0.05)
    c.json("POST", f"/api/jobs/{job['id']}/cancel")
    final = wait_for(job["id"], c)
    assert final["state"] == "cancelled" and 0 < final["done"] < 400
    folder = server.app.state.tmp / "jobs" / job["id"]
    assert list(folder.iterdir()) == []  # no output, no temporary file
    assert c.request("GET", f"/api/jobs/{job['id']}/download")[0] == 409


def test_refusals(server, tmp_path):
    c = Client(server)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    status, body, _ = c.request("POST", "/api/uploads?name=notes.mp4", text.read_bytes())
    assert status == 400 and "notes.mp4" in json.loads(body)["error"] and "not a video" in json.loads(body)["error"]
    status, body, _ = c.request("POST", "/api/uploads?name=big.mp4", b"\0" * (LIMIT + 1))
    assert status == 413 and "limit" in json.loads(body)["error"]
    leftovers = list((server.app.state.tmp / "uploads").glob("*.part"))
    assert leftovers == []
    for path in ("/api/jobs/../../../etc/passwd/download", "/api/jobs/..%2F..%2Fetc%2Fpasswd/download",
                 "/api/jobs/%2Fetc%2Fpasswd/download", "/api/jobs//etc/passwd", "/api/uploads/..%2Fjobs/frame.jpg",
                 "/api/jobs/" + "a" * 31 + "./download", "/api/uploads/%2E%2E/frame.jpg", "/../../etc/passwd"):
        status, body, _ = c.request("GET", path)
        assert status in (400, 404, 405), (path, status)
        assert b"root:" not in body


def test_token_and_remote_bind():
    with pytest.raises(FlowstyleError, match="needs --token"):
        check_bind("0.0.0.0", None)
    assert with_token(StudioOptions(host="0.0.0.0")).token  # the CLI makes a random one
    with StudioServer(StudioOptions(token="s3cret-token")) as s:
        assert Client(s).request("GET", "/api/info")[0] == 401
        assert Client(s).request("GET", "/")[0] == 401
        assert Client(s, "wrong").request("GET", "/api/info")[0] == 401
        assert Client(s, "s3cret-token").request("GET", "/api/info")[0] == 200
        status, _, _ = Client(s).request("GET", "/api/info", headers={"X-Flowstyle-Token": "s3cret-token"})
        assert status == 200
        tmp = s.app.state.tmp
        assert tmp.is_dir()
    assert not tmp.exists()  # the app's temporary files go when it stops


def read_mjpeg(port: int, seconds: float) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/live.mjpg")
    r = conn.getresponse()
    assert r.status == 200 and r.getheader("content-type").startswith("multipart/x-mixed-replace")
    data = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        data += r.read1(65536)
    conn.close()
    return data


def test_live_mjpeg_from_lavfi(server):
    c = Client(server)
    c.json("POST", "/api/live", {"source": TEST_SOURCE, "style": "7", "temporal": "flow", "width": 160})
    data = read_mjpeg(server.port, 2.5)
    with av.open(io.BytesIO(data), format="mpjpeg") as mj:
        frames = [f.to_ndarray(format="rgb24") for f in mj.decode(video=0)]
    assert len(frames) >= 20 and frames[0].shape[1] <= 160
    assert len({hashlib.sha1(f.tobytes()).hexdigest() for f in frames}) >= 20  # a moving stream, not one picture
    c.json("POST", "/api/live", {"style": "3", "temporal": "none", "width": 160})  # changed live, same stream
    stats = c.json("GET", "/api/live")
    assert stats["running"] and stats["source"] == TEST_SOURCE and stats["served"] > 20
    c.json("DELETE", "/api/live")


# --- the page in a real browser -----------------------------------------------------------

def _browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    return sync_api


@contextlib.contextmanager
def studio_page(server: StudioServer, clip: Path) -> Iterator:
    """The page in Debian's chromium (headless, no sandbox, no GPU) with ``clip`` uploaded from it and probed."""
    sync_api = _browser()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(server.url)
            page.wait_for_selector("#gallery figure")
            page.set_input_files("#file", str(clip))
            page.wait_for_function("document.getElementById('probe').textContent.includes('64x36')")
            yield page
        finally:
            browser.close()


def test_page_in_chromium(server, clip, painting, long_clip, tmp_path):
    with studio_page(server, clip) as page:
        assert "audio: aac" in page.text_content("#probe")
        page.click("#gallery figure[data-style='7']")
        page.wait_for_function("() => { const i = document.getElementById('preview');"
                               " return i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:'); }")
        first = page.get_attribute("#preview", "src")
        page.set_input_files("#painting", str(painting))
        page.wait_for_function(f"() => {{ const i = document.getElementById('preview');"
                               f" return i.src !== '{first}' && i.complete && i.naturalWidth > 0; }}")
        page.fill("#width", "64")
        # Jobs of earlier tests are listed too (the page loads them first): wait for this one.
        before = page.eval_on_selector_all(".job", "els => els.length")
        page.click("#render")
        page.wait_for_function(f"document.querySelectorAll('.job').length > {before}")
        job = page.query_selector(".job")  # the newest is prepended
        page.wait_for_function("document.querySelector('.job').dataset.state === 'done'", timeout=60000)
        assert page.eval_on_selector(".job progress", "e => e.value") == 1
        with page.expect_download() as dl:
            page.click(".job a.download")
        out = tmp_path / "download.mp4"
        dl.value.save_as(out)
        assert decode(out) == (12, True)
        job_id = job.get_attribute("id").removeprefix("job-")
        page.reload()  # jobs live on the server
        page.wait_for_selector(f"#job-{job_id}[data-state='done']")

        # a render cancelled from the page leaves nothing behind
        Client(server).upload(long_clip)
        page.reload()
        page.wait_for_function("document.getElementById('clips').options.length > 2")
        page.select_option("#clips", label="long.mp4")
        page.wait_for_function("document.getElementById('probe').textContent.includes('160x96')")
        page.fill("#width", "")
        # This job by its id (not "the first .job"), followed on the server, and a state it may pass
        # quickly under load is not required to be seen: only that it has rendered frames and is running.
        listed = set(page.eval_on_selector_all(".job", "els => els.map(e => e.id)"))
        page.click("#render")
        page.wait_for_function(f"document.querySelectorAll('.job').length > {len(listed)}")
        cancel_id = next(i for i in page.eval_on_selector_all(".job", "els => els.map(e => e.id)")
                         if i not in listed).removeprefix("job-")
        c = Client(server)
        end = time.monotonic() + 60
        while (state := c.json("GET", f"/api/jobs/{cancel_id}"))["done"] < 2 and time.monotonic() < end:
            assert state["state"] in ("queued", "running"), state
            time.sleep(0.05)
        assert state["state"] == "running" and state["done"] >= 2, state
        page.wait_for_selector(f"#job-{cancel_id}[data-state='running']")
        page.click(f"#job-{cancel_id} button.cancel")
        page.wait_for_selector(f"#job-{cancel_id}[data-state='cancelled']", timeout=30000)
        assert list((server.app.state.tmp / "jobs" / cancel_id).iterdir()) == []

        # the Live tab: the MJPEG image keeps changing
        page.click("#tab-live")
        page.fill("#live-width", "160")
        page.click("#live-start")
        page.wait_for_function("document.getElementById('live-img').naturalWidth > 0", timeout=20000)
        hashes = page.evaluate("""async () => {
            const img = document.getElementById('live-img');
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const ctx = c.getContext('2d');
            const seen = new Set();
            const end = performance.now() + 2000;
            while (performance.now() < end) {
                ctx.drawImage(img, 0, 0);
                const d = ctx.getImageData(0, 0, c.width, c.height).data;
                let h = 0;
                for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) | 0;
                seen.add(h);
                await new Promise(r => setTimeout(r, 15));
            }
            return seen.size;
        }""")
        assert hashes >= 20, f"only {hashes} distinct live frames in 2 s"
        page.click("#live-stop")


def test_page_regions_and_keys_in_chromium(server, clip, tmp_path):
    """Issue #16 from the page: a bad key comes back as one line naming its field (no job), then a job with the
    people as filmed and the rest keyed from style 7 to 3 (``person=none``, style keys 0=7, 8=3) finishes and
    its output decodes with every frame."""
    with studio_page(server, clip) as page:
        assert page.eval_on_selector_all("#key-interpolation option", "os => os.map(o => o.value)") == [
            "smooth", "linear"]
        page.fill("#width", "64")
        page.fill("#person", "none")
        page.click("#add-style-key")
        page.fill("#style-keys .key:nth-child(1) .time", "later")
        # A half-typed key row refreshes the preview, which refuses it: the reason shows under the
        # preview, not on the message line (that is for the user's actions; it raced the check below).
        # The previews the fills above started may still be answering (200) under load: match this one.
        with page.expect_response(lambda r: "/preview.jpg" in r.url and any(
                k[0] == "later" for k in json.loads(r.request.post_data or "{}").get("style_at", []))) as refused:
            page.dispatch_event("#style-keys .key:nth-child(1) .time", "change")
        assert refused.value.status == 400
        page.wait_for_function("document.getElementById('preview-status').textContent.startsWith('style_at: ')")
        assert page.text_content("#message") == ""
        page.fill("#style-keys .key:nth-child(1) .value", "7")
        before = page.eval_on_selector_all(".job", "els => els.length")
        page.click("#render")
        page.wait_for_function("document.getElementById('message').textContent.startsWith('style_at: ')")
        message = page.text_content("#message")
        assert "'later' is not a position" in message and "\n" not in message, message
        assert page.eval_on_selector_all(".job", "els => els.length") == before  # refused: no job
        # The reason stays while the page's background requests (job list, preview) succeed.
        page.evaluate("refreshJobs()")
        page.wait_for_timeout(300)
        assert page.text_content("#message") == message

        page.fill("#style-keys .key:nth-child(1) .time", "0")
        page.click("#add-style-key")
        page.fill("#style-keys .key:nth-child(2) .time", "8")
        page.fill("#style-keys .key:nth-child(2) .value", "3")
        # Changing a key setting refreshes the preview, which the server makes with the regions and keys.
        # (Earlier edits may have sent previews of half-filled rows, still in flight: wait for the whole form's.)
        keys = [["0", "7"], ["8", "3"]]
        with page.expect_response(lambda r: "/preview.jpg" in r.url
                                  and json.loads(r.request.post_data or "{}").get("style_at") == keys) as preview:
            page.select_option("#key-interpolation", "smooth")
        sent = json.loads(preview.value.request.post_data)
        assert preview.value.status == 200 and sent["person"] == "none"
        page.click("#render")
        page.wait_for_function(f"document.querySelectorAll('.job').length > {before}")
        assert page.text_content("#message") == ""
        job_id = page.get_attribute(".job", "id").removeprefix("job-")
        page.wait_for_selector(f"#job-{job_id}[data-state='done']", timeout=60000)
        job = Client(server).json("GET", f"/api/jobs/{job_id}")
        assert job["config"]["regions"]["person"] == "none" and job["config"]["regions"]["background"] is None
        assert job["config"]["keys"] == {"style_at": ["0=7", "8=3"], "strength_at": [], "interpolation": "smooth"}
        with page.expect_download() as dl:
            page.click(f"#job-{job_id} a.download")
        out = tmp_path / "keyed.mp4"
        dl.value.save_as(out)
        assert decode(out) == (12, True)

        # A region key row is the form's [REGION, TIME, STYLE] (settings.py makes it --region-at's item).
        page.click("#add-region-key")
        assert page.eval_on_selector_all("#region-keys select option", "os => os.map(o => o.value)") == [
            "person", "background", "matte"]
        page.select_option("#region-keys .key select", "background")
        page.fill("#region-keys .key .time", "4")
        page.fill("#region-keys .key .value", "none")
        assert page.evaluate("form().region_at") == [["background", "4", "none"]]
        page.click("#render")
        page.wait_for_function("document.getElementById('message').textContent.startsWith('region_at: ')")
        assert "--region background=none" in page.text_content("#message")


def test_cli_studio_prints_its_address_and_serves(tmp_path):
    import os
    import re
    import signal
    import subprocess
    import sys

    bad = subprocess.run([sys.executable, "-m", "flowstyle", "preview", str(tmp_path / "missing.mp4")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip().count("\n") == 0 and "missing.mp4: no such file" in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "flowstyle", "studio"], stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    try:
        line = proc.stderr.readline()
        m = re.search(r"open http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        end = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=5)
                conn.request("GET", "/")
                r = conn.getresponse()
                assert r.status == 200 and b"flowstyle studio" in r.read()
                break
            except ConnectionRefusedError:
                assert time.monotonic() < end
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)


def test_painted_keys_from_the_page(server, clip, tmp_path):
    """The frame to paint comes back as a lossless PNG at the render's width; a painted picture uploaded for
    frames 0 and 11 makes a job that carries them (``--keyframe``): at the keys the output is the painting
    (to within the H.264 encode), the file names only in the job's config; a key row without its picture
    is one line naming the field."""
    c = Client(server)
    up = c.upload(clip)
    status, data, headers = c.request("GET", f"/api/uploads/{up['id']}/frame.png?index=11&width=32")
    assert status == 200 and headers["content-type"] == "image/png"
    assert "demo clip_0011.png" in headers["content-disposition"]
    frame = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert frame.shape == (18, 32, 3)
    status, data, _ = c.request("GET", f"/api/uploads/{up['id']}/frame.png?index=0")
    first = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert first.shape == (36, 64, 3)
    keys = {}
    for n, rgb in ((0, first), (11, np.asarray(Image.open(io.BytesIO(
            c.request("GET", f"/api/uploads/{up['id']}/frame.png?index=11")[1])).convert("RGB")))):
        painted = (255 - rgb).astype(np.uint8)  # an unmistakable 'painting': the negative
        path = tmp_path / f"key{n}.png"
        Image.fromarray(painted).save(path)
        keys[n] = (c.upload(path), painted)
    form = {"input": up["id"], "output": ".mkv:ffv1",
            "painted_keys": [[str(n), f"upload:{u['id']}"] for n, (u, _) in keys.items()]}
    job = c.json("POST", "/api/jobs", form)
    assert str(server.app.state.tmp) not in json.dumps(job)
    assert job["config"]["painted"]["keyframes"] == [f"{n}={u['id']}.png" for n, (u, _) in keys.items()]
    job = wait_for(job["id"], c, timeout=120)
    assert job["state"] == "done", job
    status, data, _ = c.request("GET", f"/api/jobs/{job['id']}/download")
    assert status == 200
    with av.open(io.BytesIO(data)) as container:
        out = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(out) == 12
    for n, (_, painted) in keys.items():
        assert np.abs(out[n].astype(int) - painted).mean() < 3.0, n
    status, data, _ = c.request("POST", "/api/jobs", {"input": up["id"], "painted_keys": [["5", ""]]})
    assert status == 400 and b"upload the painted picture first" in data and b"\n" not in data.strip()


def test_painted_keys_in_chromium(server, clip, tmp_path):
    """From the page: download the frame at the slider to paint, add a painted key there with its picture,
    render; the job carries it (``--keyframe 0=...``) and its output decodes with every frame."""
    with studio_page(server, clip) as page:
        with page.expect_download() as dl:
            page.click("#frame-to-paint")
        frame = tmp_path / "frame.png"
        dl.value.save_as(frame)
        rgb = np.asarray(Image.open(frame).convert("RGB"))
        assert rgb.shape == (36, 64, 3)
        painted = tmp_path / "painted.png"
        Image.fromarray((255 - rgb).astype(np.uint8)).save(painted)
        page.click("#add-painted-key")
        page.set_input_files("#painted-keys .key input[type=file]", str(painted))
        page.wait_for_function("form().painted_keys.length === 1 && form().painted_keys[0][1].startsWith('upload:')")
        (frame_text, token), = page.evaluate("form().painted_keys")
        picture = token.removeprefix("upload:")
        assert frame_text == "0"
        before = page.eval_on_selector_all(".job", "els => els.length")
        page.click("#render")
        page.wait_for_function(f"document.querySelectorAll('.job').length > {before}")
        job_id = page.get_attribute(".job", "id").removeprefix("job-")
        page.wait_for_selector(f"#job-{job_id}[data-state='done']", timeout=60000)
        job = Client(server).json("GET", f"/api/jobs/{job_id}")
        assert job["config"]["painted"]["keyframes"] == [f"0={picture}.png"]
        status, data, _ = Client(server).request("GET", f"/api/jobs/{job_id}/download")
        assert status == 200 and decode(data) == (12, True)


def test_propagation_preview_in_chromium(server, clip, tmp_path):
    """"Preview the propagation here" with painted keys on frames 0, 6 and 11 and the slider on 3 renders
    frames 0-6 alone (``--in 0 --out 7``) with the two keys around the slider; the output starts and ends
    with them (the negative each key is painted as); the same with "every 4" and no keys renders 0-4."""
    c = Client(server)
    up = c.upload(clip)
    pictures = {}
    for n in (0, 6, 11):
        rgb = np.asarray(Image.open(io.BytesIO(
            c.request("GET", f"/api/uploads/{up['id']}/frame.png?index={n}")[1])).convert("RGB"))
        pictures[n] = (255 - rgb).astype(np.uint8)
        Image.fromarray(pictures[n]).save(tmp_path / f"key{n}.png")
    with studio_page(server, clip) as page:
        page.select_option("#output", ".mkv:ffv1")
        for i, n in enumerate((0, 6, 11)):
            page.evaluate(f"document.getElementById('scrub').value = {n}")
            page.click("#add-painted-key")
            page.set_input_files(f"#painted-keys .key:nth-child({i + 1}) input[type=file]", str(tmp_path / f"key{n}.png"))
            page.wait_for_function(f"form().painted_keys.length === {i + 1} && "
                                   f"form().painted_keys[{i}][1].startsWith('upload:')")
        page.evaluate("document.getElementById('scrub').value = 3")
        jobs = []
        for every in ("", "4"):
            if every:
                page.evaluate("document.querySelectorAll('#painted-keys .key button').forEach((b) => b.click())")
                page.fill("#keyframes-every", every)
            before = page.eval_on_selector_all(".job", "els => els.length")
            page.click("#preview-keys")
            page.wait_for_function(f"document.querySelectorAll('.job').length > {before}")
            job_id = page.get_attribute(".job", "id").removeprefix("job-")
            page.wait_for_selector(f"#job-{job_id}[data-state='done']", timeout=90000)
            jobs.append(Client(server).json("GET", f"/api/jobs/{job_id}"))
        assert "frames 0-7" in page.text_content(f"#job-{jobs[0]['id']} .name")
    keyed, every = jobs
    assert (keyed["config"]["span"]["in_point"], keyed["config"]["span"]["out_point"]) == ("0", "7")
    assert [k.split("=")[0] for k in keyed["config"]["painted"]["keyframes"]] == ["0", "6"]
    status, data, _ = c.request("GET", f"/api/jobs/{keyed['id']}/download")
    assert status == 200
    with av.open(io.BytesIO(data)) as container:
        out = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(out) == 7
    for index, n in ((0, 0), (6, 6)):
        assert np.abs(out[index].astype(int) - pictures[n]).mean() < 3.0, n
    assert (every["config"]["span"]["in_point"], every["config"]["span"]["out_point"]) == ("0", "5")
    assert every["config"]["painted"]["every"] == 4 and not every["config"]["painted"]["keyframes"]
    status, data, _ = c.request("GET", f"/api/jobs/{every['id']}/download")
    assert status == 200 and decode(data) == (5, True)


def test_stable_network_from_the_page(server, clip):
    """The page offers the stable network where the checkout has its weights; a job with it renders with it
    (the job's config says so) and differs from the original network's render of the same settings."""
    from flowstyle.registry import has_weights

    c = Client(server)
    networks = c.json("GET", "/api/info")["choices"]["networks"]
    assert networks[0] == "original" and ("stable" in networks) == has_weights("multistyle26_stable")
    up = c.upload(clip)
    outputs = {}
    for network in networks:
        job = c.json("POST", "/api/jobs", {"input": up["id"], "style": "7", "network": network, "output": ".mkv:ffv1",
                                           "temporal": "none"})
        assert job["config"]["style"]["network"] == network
        job = wait_for(job["id"], c, timeout=120)
        assert job["state"] == "done", job
        with av.open(io.BytesIO(c.request("GET", f"/api/jobs/{job['id']}/download")[1])) as container:
            outputs[network] = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    if len(outputs) == 2:
        diff = np.abs(outputs["stable"][3].astype(int) - outputs["original"][3]).mean()
        assert 0.5 < diff < 40, diff  # another network of the same look
