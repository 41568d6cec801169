"""How far a long job is: items per second and the time left, from (done, total) reports."""

from __future__ import annotations

import time


class Rate:
    """Fed ``(done, total)`` as work goes on; says how fast and how long is left (after a first report,
    so the rate is measured, not guessed)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.started: float | None = None
        self.first = 0

    def describe(self, done: int, total: int, unit: str) -> str:
        now = self.clock()
        if self.started is None or done < self.first:
            self.started, self.first = now, done
            return f"{done}/{total} {unit}"
        elapsed = now - self.started
        per_second = (done - self.first) / elapsed if elapsed > 0 else 0.0
        if per_second <= 0:
            return f"{done}/{total} {unit}"
        left = (total - done) / per_second
        return f"{done}/{total} {unit} ({per_second:.0f} {unit}/s, {_duration(left)} left)"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"
