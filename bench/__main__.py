"""Prints the benchmark tables and draws the frontier image; exits 1 when a target is missed, so that CI can run
it too."""

import sys
import time

from . import frontier, invocation, polling, progress
from .frontier import Bound


def targets() -> list[Bound]:
    """The polling and progress targets as bounds in the frontier image (progress's ratios are to blind jobstep's
    point)."""
    no_progress = f"no progress ({polling.SHORTEST:.0f} s - {polling.LONGEST / 60:.0f} min)"
    honest, blind = progress.HONEST, "blind jobstep"
    bounds = [
        Bound(f"{no_progress}: mean polls <= {polling.MAX_MEAN_POLLS}, p95 delay/duration <="
              f" {polling.MAX_P95_RELATIVE_DELAY}", polls=polling.MAX_MEAN_POLLS, delay=polling.MAX_P95_RELATIVE_DELAY),
        Bound(f"honest progress: p95 delay/duration <= {honest.delay}", delay=honest.delay),
        Bound(f"honest progress: mean polls <= {honest.polls}x {blind}'s", polls=honest.polls, ratio_to=blind),
    ]
    relative = [("two paces", progress.PACES), ("sub-jobs", progress.SUB_JOBS), ("deceptive", progress.DECEPTIVE)]
    for name, target in relative:
        bounds.append(Bound(f"{name}: mean polls <= {target.polls}x, p95 delay/duration <= {target.delay}x {blind}'s",
                            polls=target.polls, delay=target.delay, ratio_to=blind))
    return bounds


def main() -> int:
    began = time.monotonic()
    ok = True
    points: list[tuple[str, polling.Row]] = []
    for report in (polling.report, progress.report, invocation.report):
        lines, met, drawn = report()
        print("\n".join(lines) + "\n", flush=True)
        ok, points = ok and met, points + drawn
    print(frontier.draw(points, targets=targets()))
    print(f"{'every target met' if ok else 'targets missed'} ({time.monotonic() - began:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
