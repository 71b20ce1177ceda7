"""The frontier image: mean polls against p95 delay/duration, one point per schedule and workload, a line per workload
joining its frontier, and the benchmarks' targets. matplotlib is a bench-only dependency (`pip install -e
'.[bench]'`, which `make bench` does).

Points: filled for a schedule, larger and outlined in black for jobstep's own, hollow for a bound (an oracle, not a
schedule a poller can follow, so on no line). The no-progress workloads are black and grey, with square and diamond
markers; the progress workloads take colours and round or pointed markers. A workload's line joins, by delay, the
schedules that no other schedule of the workload beats on both measures. Targets are red: a line for a bound on one
measure, a shaded corner for bounds on both, each tagged T1, T2, ... as in the legend.

Labels are placed greedily, jobstep's first, at the first of a few offsets around the point (farther ones with a
leader line) where they cover no marker, tag, label or line, then where they cover no marker, tag or label (TRIES);
a label that finds no room is replaced by a number, keyed under the picture, and the key names any point left without
even a number. Points at (nearly) the same place share one label, "blind jobstep / jumps 0 % -> done". The image
depends on the points and targets alone.
"""

import math
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple, Optional

from .polling import Row

OUT = Path(__file__).parent / "out" / "frontier.png"


class Bound(NamedTuple):
    """A benchmark's target drawn as bounds in the picture's axes: mean polls at most `polls`, p95 delay/duration at
    most `delay` (either may be None: a line; both: a corner). With `ratio_to`, both are ratios to the values of the
    first point of that schedule name (such as "blind jobstep"); the target is left out when there is no such point."""

    label: str  # whose target it is and what it asks, for the legend
    polls: Optional[float] = None
    delay: Optional[float] = None
    ratio_to: Optional[str] = None


DPI = 120
NO_PROGRESS_STYLES = [("black", "s"), ("0.55", "D"), ("0.3", "P"), ("0.7", "X")]
COLOURS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
MARKERS = ["o", "^", "v", "p", "<", ">", "h", "8", "*", "d"]
TARGET_COLOUR = "#c0001a"  # red, which no workload takes
TARGET_DASHES: list[Any] = ["--", "-.", ":", (0, (6, 2, 1, 2, 1, 2)), (0, (2, 1)), (0, (8, 3))]
SIZE, JOBSTEP_SIZE = 36, 100  # marker areas, pt^2
FONT = 6.5
WRAP = 62  # legend entries' width, in characters


def is_jobstep(name: str) -> bool:
    """jobstep's own schedule: "jobstep", "blind jobstep", "jobstep, honest percent"."""
    return re.search(r"\bjobstep\b", name) is not None


def is_bound(name: str) -> bool:
    """A bound, not a schedule: "blind until a sub-job ends, then oracle"."""
    return "oracle" in name.lower()


def is_no_progress(workload: str) -> bool:
    return "no progress" in workload


def frontier(rows: Sequence[Row]) -> list[Row]:
    """The rows no other beats on both measures (at least as good on both, better on one), by delay."""

    def beaten(row: Row) -> bool:
        return any(
            other.mean_polls <= row.mean_polls
            and other.p95_relative_delay <= row.p95_relative_delay
            and (other.mean_polls, other.p95_relative_delay) != (row.mean_polls, row.p95_relative_delay)
            for other in rows
        )

    return sorted((row for row in rows if not beaten(row)), key=lambda row: (row.p95_relative_delay, row.mean_polls))


Box = tuple[float, float, float, float]  # x0, y0, x1, y1, in display pixels
Segment = tuple[float, float, float, float]  # from x0, y0 to x1, y1


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def crosses(segment: Segment, box: Box) -> bool:
    """Whether the segment meets the box (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = segment
    low, high = 0.0, 1.0
    for p, q in ((x0 - x1, x0 - box[0]), (x1 - x0, box[2] - x0), (y0 - y1, y0 - box[1]), (y1 - y0, box[3] - y0)):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            low = max(low, q / p)
        else:
            high = min(high, q / p)
        if low > high:
            return False
    return True


def inside(box: Box, frame: Any) -> bool:
    return bool(frame.x0 <= box[0] and frame.y0 <= box[1] and box[2] <= frame.x1 and box[3] <= frame.y1)


def aligned(x: float, y: float, ha: str, va: str, size: tuple[float, float]) -> Box:
    """The box of a text of this size anchored at (x, y) with this alignment."""
    width, height = size
    x0 = x if ha == "left" else x - width if ha == "right" else x - width / 2
    y0 = y if va == "bottom" else y - height if va == "top" else y - height / 2
    return (x0, y0, x0 + width, y0 + height)


# Where a label may go around its point: a direction, and the alignment that keeps the text on that side.
DIRECTIONS = [
    ((1, 0), "left", "center"),
    ((0.75, 0.75), "left", "bottom"),
    ((0.75, -0.75), "left", "top"),
    ((-1, 0), "right", "center"),
    ((-0.75, 0.75), "right", "bottom"),
    ((-0.75, -0.75), "right", "top"),
    ((0, 1), "center", "bottom"),
    ((0, -1), "center", "top"),
]
# How far a label may go (points beyond the marker's edge; past 0, a leader line joins label and point), and what it
# may then cross: 0, nothing; 1, lines; 2, lines, and other markers with its leader line. The first that fits wins.
NEAR, FAR = [0, 7, 15, 24], [36, 50]
TRIES = [(NEAR, 0), (NEAR, 1), (FAR, 0), (FAR, 1), (NEAR + FAR, 2)]
SAME, GAP = 3.0, 2.0  # pixels: points this close share a label; labels and tags keep this far apart
WHITE = {"boxstyle": "square,pad=0.05", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}


class Label(NamedTuple):
    text: str
    x: float  # where the point is, in display pixels
    y: float
    radius: float  # the marker's, in points
    colour: str
    bold: bool


class Placer:
    """Places texts in the axes so that they cover nothing placed before them."""

    def __init__(self, figure: Any, axes: Any, markers: list[Box], lines: list[Segment]) -> None:
        self.figure, self.axes, self.markers, self.lines = figure, axes, markers, lines
        self.renderer = figure.canvas.get_renderer()
        self.frame = axes.get_window_extent(self.renderer)
        self.scale = figure.dpi / 72  # pixels per point
        self.taken: list[Box] = []
        self.leaders: list[Segment] = []
        self.sizes: dict[tuple[str, float, bool], tuple[float, float]] = {}
        self.data = axes.transData.inverted().transform  # display pixels -> the axes' values

    def size(self, text: str, font: float, bold: bool) -> tuple[float, float]:
        """A text's size in pixels, with its white pad."""
        if (text, font, bold) not in self.sizes:
            probe = self.figure.text(0, 0, text, fontsize=font, fontweight="bold" if bold else "normal")
            extent = probe.get_window_extent(self.renderer)
            probe.remove()
            self.sizes[text, font, bold] = (extent.width + 2, extent.height + 1)
        return self.sizes[text, font, bold]

    def free(self, box: Box, strict: bool) -> bool:
        wide = (box[0] - GAP, box[1] - GAP, box[2] + GAP, box[3] + GAP)
        return (
            inside(box, self.frame)
            and not any(overlaps(box, other) for other in self.markers)
            and not any(overlaps(wide, other) for other in self.taken)
            and not (strict and any(crosses(segment, box) for segment in self.lines + self.leaders))
        )

    def tag(self, text: str, spots: list[tuple[float, float, str, str]]) -> None:
        """A target's tag at the first free spot (display pixels and alignment), else at the first."""
        size = self.size(text, 7, True)
        x, y, ha, va = next((spot for spot in spots if self.free(aligned(*spot, size), False)), spots[0])
        self.taken.append(aligned(x, y, ha, va, size))
        self.axes.annotate(
            text,
            self.data((x, y)),
            ha=ha,
            va=va,
            fontsize=7,
            fontweight="bold",
            color=TARGET_COLOUR,
            bbox=WHITE,
            zorder=6,
        )

    def label(self, label: Label, text: str, reaches: list[int], crossing: int) -> bool:
        """The label's text at its first free offset; whether there was one."""
        size = self.size(text, FONT, label.bold)
        others = [
            box
            for box in self.markers  # the markers but its own points'
            if max(abs(box[0] + box[2] - 2 * label.x), abs(box[1] + box[3] - 2 * label.y)) > 2 * SAME
        ]
        for reach in reaches:
            distance = label.radius + 1.5 + reach
            for (ux, uy), ha, va in DIRECTIONS:
                dx, dy = ux * distance, uy * distance
                ax, ay = label.x + dx * self.scale, label.y + dy * self.scale
                box = aligned(ax, ay, ha, va, size)
                if not self.free(box, strict=crossing == 0):
                    continue
                leader = (label.x + ux * label.radius * self.scale, label.y + uy * label.radius * self.scale, ax, ay)
                if reach and (
                    any(crosses(leader, other) for other in self.taken)
                    or crossing < 2
                    and any(crosses(leader, other) for other in others)
                ):
                    continue
                self.taken.append(box)
                if reach:
                    self.leaders.append(leader)
                self.axes.annotate(
                    text,
                    self.data((label.x, label.y)),
                    xytext=(dx, dy),
                    textcoords="offset points",
                    ha=ha,
                    va=va,
                    fontsize=FONT,
                    fontweight="bold" if label.bold else "normal",
                    bbox=WHITE,
                    zorder=6,
                    arrowprops={
                        "arrowstyle": "-",
                        "color": label.colour,
                        "lw": 0.6,
                        "shrinkA": 0,
                        "shrinkB": label.radius,
                    }
                    if reach
                    else None,
                )
                return True
        return False

    def labels(self, labels: list[Label]) -> tuple[list[str], list[str]]:
        """Each label, or else its number; the numbered texts, in order, and those that found no room even so."""
        key: dict[str, int] = {}
        missing = []
        for label in labels:
            number = str(key.get(label.text, len(key) + 1))
            if any(self.label(label, label.text, *tried) for tried in TRIES):
                continue
            if any(self.label(label, number, *tried) for tried in TRIES):
                key.setdefault(label.text, len(key) + 1)
            else:
                missing.append(label.text)
        return list(key), missing


def draw(points: list[tuple[str, Row]], path: Path = OUT, targets: Sequence[Bound] = ()) -> str:
    """Writes the image; returns a line saying where, or why not."""
    try:
        import matplotlib
    except ImportError:
        return "frontier image skipped: matplotlib is not installed (pip install -e '.[bench]')"
    matplotlib.use("Agg")  # files only: no display on a CI machine
    from matplotlib import pyplot
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    workloads = list(dict.fromkeys(workload for workload, _ in points))
    workloads = [w for w in workloads if is_no_progress(w)] + [w for w in workloads if not is_no_progress(w)]
    styles = dict(zip([w for w in workloads if is_no_progress(w)], NO_PROGRESS_STYLES * len(workloads)))
    for index, workload in enumerate(w for w in workloads if not is_no_progress(w)):
        styles[workload] = (COLOURS[index % len(COLOURS)], MARKERS[index % len(MARKERS)])  # 40 pairs

    # The targets in the axes' values; one relative to a point that is not there is left out.
    references: dict[str, Row] = {}
    for _, row in points:
        references.setdefault(row.name, row)
    bounds = []
    for target in targets:
        reference = references.get(target.ratio_to) if target.ratio_to else None
        if target.ratio_to and not reference:
            continue
        polls = target.polls * reference.mean_polls if reference and target.polls else target.polls
        delay = target.delay * reference.p95_relative_delay if reference and target.delay else target.delay
        if polls or delay:
            bounds.append((target, polls, delay))

    # Log axes, wide enough for every point and target; a zero (an oracle's delay) sits at the left edge.
    xs = [row.p95_relative_delay for _, row in points if row.p95_relative_delay > 0] + [d for _, _, d in bounds if d]
    ys = [row.mean_polls for _, row in points if row.mean_polls > 0] + [p for _, p, _ in bounds if p]
    xs, ys = xs or [0.1, 1.0], ys or [1.0, 10.0]
    x_zero, y_zero = min(xs) / 1.6, min(ys) / 1.6
    xlim = (x_zero / 1.3 if any(row.p95_relative_delay <= 0 for _, row in points) else x_zero, max(xs) * 1.6)
    ylim = (y_zero, max(ys) * 1.6)

    def at(row: Row) -> tuple[float, float]:
        return max(row.p95_relative_delay, x_zero), max(row.mean_polls, y_zero)

    figure, axes = pyplot.subplots(figsize=(11, 7.5), dpi=DPI)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(*xlim)
    axes.set_ylim(*ylim)
    axes.set_xlabel("p95 detection delay / job duration (lower is better)")
    axes.set_ylabel("mean polls per job (lower is better)")
    axes.set_title("Polling schedules: mean polls against p95 delay/duration; a line per workload joins its frontier")
    for axis in (axes.xaxis, axes.yaxis):  # plain numbers at 1, 2 and 5 of each decade
        axis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.set_minor_formatter(NullFormatter())
    axes.grid(True, which="both", alpha=0.25)

    # Each workload: its frontier line, then its points.
    handles: list[Any] = []
    for workload in workloads:
        colour, marker = styles[workload]
        rows = [row for name, row in points if name == workload]
        line = [at(row) for row in frontier([row for row in rows if not is_bound(row.name)])]
        axes.plot(
            [x for x, _ in line],
            [y for _, y in line],
            color=colour,
            lw=1.8 if is_no_progress(workload) else 1.3,
            alpha=0.85,
            zorder=2,
        )
        for row in rows:
            jobstep, bound = is_jobstep(row.name), is_bound(row.name)
            axes.scatter(
                *at(row),
                s=JOBSTEP_SIZE if jobstep else SIZE,
                marker=marker,
                zorder=5 if jobstep else 4,
                facecolor="white" if bound else colour,
                edgecolor="black" if jobstep else colour,
                linewidths=1.6 if jobstep else 1.0,
            )
        handles.append(Line2D([], [], color=colour, marker=marker, markersize=6, lw=1.5, label=workload))

    # The targets: a line for a bound on one measure, a shaded corner for bounds on both.
    lines = []
    for index, (target, polls, delay) in enumerate(bounds):
        dash, tag = TARGET_DASHES[index % len(TARGET_DASHES)], f"T{index + 1}"
        values = ", ".join(
            text for text in (f"{polls:.3g} polls" if polls else "", f"{delay:.3g}" if delay else "") if text
        )
        entry = textwrap.fill(
            f"{tag}: {target.label}"
            + (f" ({values})" if target.ratio_to else "")
            + (": the shaded corner" if polls and delay else ""),
            WRAP,
        )
        right, top = delay or xlim[1], polls or ylim[1]
        if polls and delay:
            axes.add_patch(
                Rectangle(
                    (xlim[0], ylim[0]),
                    delay - xlim[0],
                    polls - ylim[0],
                    facecolor=TARGET_COLOUR,
                    alpha=0.05,
                    edgecolor="none",
                    zorder=1,
                )
            )
            handles.append(Patch(facecolor=(0.75, 0, 0.1, 0.08), edgecolor=TARGET_COLOUR, ls=dash, label=entry))
        else:
            handles.append(Line2D([], [], color=TARGET_COLOUR, ls=dash, lw=1.2, label=entry))
        edges = ([((xlim[0], polls), (right, polls))] if polls else []) + (
            [((delay, top), (delay, ylim[0]))] if delay else []
        )
        for (x0, y0), (x1, y1) in edges:
            axes.plot([x0, x1], [y0, y1], color=TARGET_COLOUR, ls=dash, lw=1.2, zorder=3)
        lines.append((tag, edges))

    handles.append(
        Line2D(
            [],
            [],
            ls="none",
            marker="o",
            markersize=8,
            markerfacecolor="0.85",
            markeredgecolor="black",
            markeredgewidth=1.6,
            label="jobstep's schedule: larger, outlined, labelled in bold",
        )
    )
    if any(is_bound(row.name) for _, row in points):
        handles.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                markersize=6,
                markerfacecolor="white",
                markeredgecolor="0.3",
                label="a bound, not a schedule: hollow, on no line",
            )
        )
    for workload in workloads:  # the progress workloads that run on a no-progress workload's jobs
        jobs = workload.rsplit(", ", 1)[0]
        if is_no_progress(workload) and any(w.startswith(jobs + ", ") and not is_no_progress(w) for w in workloads):
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="none",
                    label=textwrap.fill(
                        f'The {jobs} progress workloads run on the jobs of "{workload}": its blind schedules are theirs'
                        " too.",
                        WRAP,
                    ),
                )
            )
    legend = axes.legend(
        handles=handles,
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
        ncol=2 if len(handles) > 30 else 1,
        title="workloads, then targets",
        title_fontsize=7.5,
    )
    axes.add_artist(legend)

    # Labels: the targets' tags first, then jobstep's points', then the others'; points at one place share one.
    figure.canvas.draw()
    transform, scale = axes.transData.transform, figure.dpi / 72
    labels: list[Label] = []
    markers, segments = [], []
    for workload in workloads:
        colour, _ = styles[workload]
        for row in [row for name, row in points if name == workload]:
            x, y = transform(at(row))
            radius = math.sqrt(JOBSTEP_SIZE if is_jobstep(row.name) else SIZE) / 2
            markers.append(
                (x - (radius + 1) * scale, y - (radius + 1) * scale, x + (radius + 1) * scale, y + (radius + 1) * scale)
            )
            label = Label(
                row.name.replace("jobstep, ", "") + (" (delay 0)" if row.p95_relative_delay <= 0 else ""),
                x,
                y,
                radius,
                colour,
                is_jobstep(row.name),
            )
            same = next(
                (index for index, other in enumerate(labels) if abs(other.x - x) <= SAME and abs(other.y - y) <= SAME),
                None,
            )
            if same is None:
                labels.append(label)
            else:  # one label for both
                texts = labels[same].text.split(" / ")
                labels[same] = labels[same]._replace(
                    text=" / ".join(texts + [label.text] if label.text not in texts else texts),
                    radius=max(labels[same].radius, radius),
                    bold=labels[same].bold or label.bold,
                )
        ends = [
            transform(at(row))
            for row in frontier([row for name, row in points if name == workload and not is_bound(row.name)])
        ]
        segments += [(a[0], a[1], b[0], b[1]) for a, b in zip(ends, ends[1:])]
    for _, edges in lines:
        segments += [(*transform(a), *transform(b)) for a, b in edges]
    placer = Placer(figure, axes, markers, segments)
    pad = 3
    for tag, edges in lines:
        spots = []
        for a, b in edges:
            (x0, y0), (x1, y1) = transform(a), transform(b)
            for share in (0.97, 0.03, 0.5, 0.75, 0.25):
                x, y = x0 + share * (x1 - x0), y0 + share * (y1 - y0)
                if y0 == y1:  # horizontal: above, else below
                    spots += [(x, y + pad, "center", "bottom"), (x, y - pad, "center", "top")]
                else:  # vertical: right, else left
                    spots += [(x + pad, y, "left", "center"), (x - pad, y, "right", "center")]
        placer.tag(tag, spots)
    key, missing = placer.labels(sorted(labels, key=lambda label: not label.bold))
    extra = [legend]
    if key or missing:
        entries = [Line2D([], [], ls="none", label=f"{number}  {text}") for number, text in enumerate(key, 1)]
        note = f"; too crowded to label: {', '.join(missing)}" if missing else ""
        extra.append(
            axes.legend(
                handles=entries,
                fontsize=6.5,
                loc="upper left",
                bbox_to_anchor=(0.0, -0.08),
                borderaxespad=0,
                ncol=3,
                handlelength=0,
                handletextpad=0,
                columnspacing=1.5,
                title=textwrap.fill(f"numbered labels{note}", 140),
                title_fontsize=7,
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight", bbox_extra_artists=extra)
    pyplot.close(figure)
    return f"frontier image: {path}"
