"""The frontier image: mean polls against p95 delay/duration, one point per schedule and workload. matplotlib is
a bench-only dependency (`pip install -e '.[bench]'`, which `make bench` does)."""

from pathlib import Path

from .polling import Row

OUT = Path(__file__).parent / "out" / "frontier.png"


def draw(points: list[tuple[str, Row]], path: Path = OUT) -> str:
    """Writes the image; returns a line saying where, or why not."""
    try:
        import matplotlib
    except ImportError:
        return "frontier image skipped: matplotlib is not installed (pip install -e '.[bench]')"
    matplotlib.use("Agg")  # files only: no display on a CI machine
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(11, 7))
    workloads = list(dict.fromkeys(workload for workload, _ in points))
    colours = pyplot.get_cmap("tab20")
    for index, workload in enumerate(workloads):
        rows = [row for name, row in points if name == workload]
        axes.scatter([row.p95_relative_delay for row in rows], [row.mean_polls for row in rows],
                     color=colours(index % 20), label=workload, s=36)
        for row in rows:
            axes.annotate(row.name.replace("jobstep, ", ""), (row.p95_relative_delay, row.mean_polls), fontsize=6,
                          xytext=(3, 3), textcoords="offset points")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("p95 detection delay / job duration (lower is better)")
    axes.set_ylabel("mean polls per job (lower is better)")
    axes.set_title("Polling schedules: polls against detection delay, per workload")
    axes.legend(fontsize=7, loc="upper right")
    axes.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120, bbox_inches="tight")
    pyplot.close(figure)
    return f"frontier image: {path}"
