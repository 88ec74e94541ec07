"""How long the proxy waits before it tries meshd's discovery stream again.

Exponential from `RECONNECT_FIRST`, doubling up to `RECONNECT_LONGEST`; each wait is drawn between half and
all of the current step (jitter), so proxies that lost meshd together do not come back together. The steps
start over once meshd has accepted a stream (its first push arrived), so a proxy that was connected for a
long time retries quickly when meshd comes back: while meshd is away it tries at least every 5 s.
"""

from __future__ import annotations

import random
from collections.abc import Callable

RECONNECT_FIRST = 0.5
RECONNECT_LONGEST = 5.0


class Backoff:
    def __init__(
        self,
        first: float = RECONNECT_FIRST,
        longest: float = RECONNECT_LONGEST,
        uniform: Callable[[], float] = random.random,
    ) -> None:
        self.first = first
        self.longest = longest
        self._uniform = uniform
        self._step = first

    def next_wait(self) -> float:
        """The wait before the next attempt (half to all of the current step); the step then doubles."""
        wait = self._step * (0.5 + 0.5 * self._uniform())
        self._step = min(self._step * 2, self.longest)
        return wait

    def reset(self) -> None:
        """meshd accepted a stream: the next wait is short again."""
        self._step = self.first
