"""eval/run_stable.py (the benchmark of the stable networks) end to end on a stand-in stable network: the
shipped weights plus small noise (tests/fake_weights.py), 4 frames of one clip at 96 px."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from fake_weights import fake_stable

ROOT = Path(__file__).resolve().parent.parent


def run_stable():
    spec = importlib.util.spec_from_file_location("run_stable", ROOT / "eval" / "run_stable.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_stable_writes_every_column_for_every_row(media: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", os.environ.get("FLOWSTYLE_WEIGHTS", ""))  # main sets it: undone after
    bench = run_stable()
    weights, out = fake_stable(tmp_path / "weights"), tmp_path / "out"
    styles = ["7", str(media / "styles" / "udnie.jpg")]  # one style of each network
    rc = bench.main(["--out", str(out), "--frames", "4", "--width", "96", "--clips", "bikes.mp4", "--styles", *styles,
                     "--weights", str(weights), "--tile", "48"])
    assert rc in (0, 1)  # 1: a target missed (noise does not make a network stable)
    rows = json.loads((out / "stable.json").read_text())
    assert [(r["style"], r["run"]) for r in rows] == [(s, run) for s in ("style7", "udnie") for run in "ABC"]
    columns = [k for k, _ in bench.COLUMNS if k != "ewarp_exact"] + ["drift", "frames", "fps", "fps_r"]
    for r in rows:
        assert r["clip"] == "bikes.mp4" and r["frames"] == 4
        assert all(isinstance(r[k], (int, float)) and r[k] >= 0 for k in columns), r
        # Exact motion scores a network per-frame: the stable network alone has it, the temporal modes not.
        assert (r["ewarp_exact"] is None) == (r["run"] != "A") and (r["ewarp_exact"] or 0) >= 0, r
        assert (r["met"] is None) == (r["run"] == "C") and isinstance(r["missed"], list)
    table = (out / "stable.md").read_text()
    assert table.count("| bikes.mp4 |") == 6 and "Gram relu1_1" in table and "cpu:" in table
    for name in ("stable_sheet.png", "stable_crops_bikes.png"):
        assert (out / name).stat().st_size > 1000


def test_run_stable_without_stable_weights_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from flowstyle import registry

    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", os.environ.get("FLOWSTYLE_WEIGHTS", ""))
    bench = run_stable()
    folder = tmp_path / "none"  # the repository's manifest without trained entries
    folder.mkdir()
    text = (registry.weights_dir() / "manifest.toml").read_text(encoding="utf-8")
    (folder / "manifest.toml").write_text(text.split("\n[trained.")[0], encoding="utf-8")
    assert bench.main(["--out", str(tmp_path / "out"), "--weights", str(folder)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no stable version of the 'multistyle26' network" in err
    assert not (tmp_path / "out").exists()
    shutil.rmtree(folder)


def test_stable_frontier_measures_every_run_against_the_per_frame_reference(media: Path, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """eval/stable_frontier.py: the original network's curve (the temporal step at three strengths) and the
    stand-in stable network's points, each a ratio to the original per-frame render; a steadier step is
    steadier (E_warp falls from C0 to C2 on a real clip)."""
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", os.environ.get("FLOWSTYLE_WEIGHTS", ""))
    spec = importlib.util.spec_from_file_location("stable_frontier", ROOT / "eval" / "stable_frontier.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "out"
    assert bench.main(["--out", str(out), "--frames", "6", "--width", "96", "--clips", "bikes.mp4", "--styles", "7",
                       "--weights", str(fake_stable(tmp_path / "weights"))]) == 0
    rows = {r["run"]: r for r in json.loads((out / "stable_frontier.json").read_text())}
    assert sorted(rows) == ["B0", "B1", "C0", "C1", "C2"]
    for r in rows.values():
        assert all(r[k] > 0 for k in bench.COLUMNS), r
    assert rows["C2"]["ewarp_dis"] < rows["C0"]["ewarp_dis"] < 1.0
    assert (out / "stable_frontier.md").read_text().count("| bikes.mp4 |") == 5
