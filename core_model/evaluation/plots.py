"""The IoU analysis plot (RITM's plot_ious_analysis): mean IoU against the number of clicks, one line per
checkpoint × mode, one panel per dataset, written as a PNG with matplotlib's Agg backend (no display)."""
from __future__ import annotations

from pathlib import Path

from .report import mean_curve
from .runs import RunResult


def plot_iou_analysis(results: list[RunResult], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure   # a Figure of its own: no pyplot state, nothing shown
    from matplotlib.ticker import MaxNLocator

    datasets = list(dict.fromkeys(r.dataset.name for r in results))
    fig = Figure(figsize=(6.4 * len(datasets), 4.8), dpi=100)
    for i, name in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), i + 1)
        for r in (r for r in results if r.dataset.name == name):
            curve = mean_curve(r)
            ax.plot(range(1, len(curve) + 1), curve, marker="o", markersize=3, linewidth=1.5,
                    label=f"{r.label} ({len(r.ious)} samples)")
        ax.set_title(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("number of clicks")
        ax.set_ylabel("mean IoU")
        ax.set_ylim(0.0, 1.0)
        ax.grid(True, alpha=0.4)
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    fig.savefig(str(path), format="png")
    return path
