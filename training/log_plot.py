"""The per-epoch CSV log of a training run and its plot (losses and validation NoC per epoch)."""
from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["epoch", "step", "lr", "loss", "focal", "aux_bce", "sim_clicks", "sec_per_step", "val_noc85",
           "val_noc90", "val_miou@1", "val_miou@2", "val_miou@3", "val_miou@4", "val_miou@5", "val_images",
           "elapsed_min"]


def append_row(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _floats(rows, key):
    xs, ys = [], []
    for r in rows:
        if r.get(key) not in (None, ""):
            xs.append(float(r["epoch"]))
            ys.append(float(r[key]))
    return xs, ys


def write_plot(csv_path: Path, png_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_rows(csv_path)
    fig, (ax_loss, ax_noc) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("loss", "focal", "aux_bce"):
        ax_loss.plot(*_floats(rows, key), marker=".", label=key)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend()
    for key, label in (("val_noc85", "NoC@85"), ("val_noc90", "NoC@90")):
        ax_noc.plot(*_floats(rows, key), marker="o", label=label)
    ax_noc.set_xlabel("epoch")
    ax_noc.set_ylabel("validation clicks (lower is better)")
    ax_noc.legend()
    fig.suptitle(Path(csv_path).parent.name)
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)
    plt.close(fig)
