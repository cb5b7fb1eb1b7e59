"""python -m core_model.evaluate's run files and options: several checkpoints, modes and datasets in one
Markdown table, --out with summary.md, ious.csv (a row per sample), iou_analysis.png and vis/, the modes'
predictor settings (cvpr, fixedN), --resize, and one-line errors. Tiny runs: 64 px images, 2–3 clicks,
the bundled default model."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import REPO
from core_model.cli.evaluate import main
from core_model.default_model import DEFAULT_CHECKPOINT
from core_model.errors import CliError
from core_model.noc import clicks_to_reach
from eval_fixtures import davis_folder, grabcut_folder, images_masks_folder, sbd_folder, voc_folder


def _evaluate(capsys, *args) -> str:
    assert main([str(a) for a in args]) == 0
    return capsys.readouterr().out


def test_every_layout_in_one_run(tmp_path, capsys):
    folders = {"davis": davis_folder, "grabcut": grabcut_folder, "images-masks": images_masks_folder,
               "sbd": sbd_folder, "voc": voc_folder}
    args = []
    for layout, make in folders.items():
        make(tmp_path / layout)
        args += ["--dataset", tmp_path / layout]
    res = json.loads(_evaluate(capsys, *args, "--n-clicks", 2, "--min-n-clicks", 1, "--threads", 1, "--json"))
    runs = {r["layout"]: r for r in res["runs"]}
    assert sorted(runs) == sorted(folders)
    assert {k: r["images"] for k, r in runs.items()} == {"davis": 2, "grabcut": 1, "images-masks": 2,
                                                         "sbd": 3, "voc": 2}
    for r in runs.values():
        assert r["name"] == "default" and r["mode"] == "recommended" and 1 <= r["noc85"] <= r["noc90"] <= 2
        assert r["dataset_name"] == r["layout"] and 0 < r["mean_iou_at_click"]["1"] <= 1


def test_two_checkpoints_table_csv_plot_and_pictures(tmp_path, capsys):
    davis_folder(tmp_path / "tiny", count=2)
    out = tmp_path / "run"
    text = _evaluate(capsys, "--checkpoint", f"first={DEFAULT_CHECKPOINT}",
                     "--checkpoint", f"second={DEFAULT_CHECKPOINT}",
                     "--dataset", tmp_path / "tiny", "--n-clicks", 3, "--threads", 1, "--target-iou", 0.9, 0.95,
                     "--out", out, "--save-ious", "--iou-analysis", "--vis-preds", 1, "--print-ious")
    summary = (out / "summary.md").read_text(encoding="utf-8")
    table = [line for line in summary.splitlines() if line.startswith("|")]
    assert table == [line for line in text.splitlines() if line.startswith("|")]      # the printed table
    head = [c.strip() for c in table[0].strip("|").split("|")]
    assert head[:8] == ["Model", "Mode", "Dataset", "Samples", "NoC@85", "NoC@90", "NoC@95", "≥3@85"]
    assert "SPC, s" in head and "mIoU@3" in head and set(table[1].replace("|", "").split()) <= {"---", "---:"}
    rows = [dict(zip(head, (c.strip() for c in line.strip("|").split("|")))) for line in table[2:]]
    assert [r["Model"] for r in rows] == ["first", "second"] and all(r["Samples"] == "2" for r in rows)
    assert rows[0]["NoC@90"] == rows[1]["NoC@90"] and rows[0]["mIoU@1"] == rows[1]["mIoU@1"]   # same model
    assert 1.0 <= float(rows[0]["NoC@85"]) <= float(rows[0]["NoC@90"]) <= float(rows[0]["NoC@95"]) <= 3.0
    assert float(rows[0]["SPC, s"]) > 0

    with open(out / "ious.csv", newline="", encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert [(r["model"], r["sample"]) for r in lines] == [("first", "s0.jpg"), ("first", "s1.jpg"),
                                                          ("second", "s0.jpg"), ("second", "s1.jpg")]
    for r in lines:
        ious = [float(r[f"iou_{k}"]) for k in (1, 2, 3)]          # --iou-analysis: every click is made
        assert r["clicks"] == "3" and all(0.0 <= v <= 1.0 for v in ious)
        for t in (85, 90, 95):
            assert int(r[f"noc{t}"]) == clicks_to_reach(ious, t / 100, 3)
    noc90 = np.mean([int(r["noc90"]) for r in lines[:2]])
    assert f"{noc90:.2f}" == rows[0]["NoC@90"]

    png = (out / "iou_analysis.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import cv2
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape[0] > 100 and picture.shape[1] > 100 and picture.std() > 5

    pictures = sorted(p.relative_to(out / "vis").as_posix() for p in (out / "vis").rglob("*.jpg"))
    assert len(pictures) == 6 and {p.split("/")[0] for p in pictures} == {"first_tiny", "second_tiny"}
    assert [p.split("/")[1][-12:] for p in pictures[:3]] == ["_click01.jpg", "_click02.jpg", "_click03.jpg"]
    assert cv2.imread(str(out / "vis" / pictures[0])).shape[:2] == (36, 64)
    assert "first" in summary and str(out / "ious.csv") in summary


def test_modes_set_the_predictor_input(tmp_path, capsys):
    from core_model.evaluation.modes import run_settings
    from core_model.predictor import InteractivePredictor

    class ShapeModel(torch.nn.Module):
        with_prev_mask = True

        def __init__(self):
            super().__init__()
            self.shapes = []

        def forward(self, x, points):
            self.shapes.append(tuple(x.shape[2:]))
            return {"instances": torch.zeros(x.shape[0], 1, x.shape[2], x.shape[3])}

    assert run_settings("cvpr", "DAVIS", {}).zoom_target_size == 600
    assert run_settings("cvpr", "COCO_MVal", {"zoom_in": False}).zoom_in is False
    image = np.full((60, 100, 3), 90, np.uint8)
    for mode, first in (("fixed48", (48, 48)), ("cvpr", (60, 100))):
        model = ShapeModel()
        predictor = InteractivePredictor(model, settings=run_settings(mode, "x", {"threshold": 0.3}))
        predictor.set_image(image)
        predictor.add_click(30, 50, True)
        assert model.shapes[0] == first, mode                   # fixedN: N×N from the first click on
        assert predictor.settings.threshold == 0.3

    davis_folder(tmp_path / "tiny", count=1)
    text = _evaluate(capsys, "--dataset", tmp_path / "tiny", "--eval-mode", "cvpr", "fixed64", "--no-zoom-in",
                     "--n-clicks", 1, "--min-n-clicks", 1, "--threads", 1, "--thresh", 0.6)
    assert text.count("predictor:  no zoom-in, full size, flip, threshold 0.6, NoBRS") == 2
    assert "| default | cvpr | tiny |" in text and "| default | fixed64 | tiny |" in text
    text = _evaluate(capsys, "--dataset", tmp_path / "tiny", "--eval-mode", "recommended", "fixed80",
                     "--n-clicks", 1, "--min-n-clicks", 1, "--threads", 1)
    assert "predictor:  zoom-in to 256 px (min crop 200), longest side ≤ 256 px" in text     # the model's own
    assert "predictor:  zoom-in to 80×80 px (min crop 200, from the first click), full size, flip" in text


def test_resize_only_shrinks_larger_images():
    from core_model.evaluation.runs import resize_sample
    image, gt = np.zeros((60, 100, 3), np.uint8), np.zeros((60, 100), np.int8)
    gt[10:20, 10:20] = 1
    small, small_gt = resize_sample(image, gt, (50, 40))
    assert small.shape == (40, 50, 3) and small_gt.shape == (40, 50) and set(np.unique(small_gt)) == {0, 1}
    same, same_gt = resize_sample(image, gt, (200, 100))
    assert same is image and same_gt is gt


def test_bad_options_are_one_sentence(tmp_path):
    davis_folder(tmp_path / "tiny", count=1)
    for args in ((["--save-ious"]), ["--eval-mode", "fixed"], ["--eval-mode", "cvpr", "--ritm-settings"],
                 ["--target-iou", "1.5"], ["--clicks-limit", "0"]):
        with pytest.raises(CliError):
            main(["--dataset", str(tmp_path / "tiny"), *args])
    proc = subprocess.run([sys.executable, "-m", "core_model.evaluate", "--dataset", str(tmp_path / "tiny"),
                           "--iou-analysis"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == ["error: --iou-analysis writes its file into the run's folder; "
                                                "pass --out DIR as well."]
