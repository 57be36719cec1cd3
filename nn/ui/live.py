"""Training a Playground live on the running asyncio event loop (a notebook kernel's), so that
button clicks are handled between bursts of steps."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from scalargrad import NonFiniteError


class LiveTraining:
    """Take ``pg.step()`` for a while, call ``on_refresh()``, yield to the event loop; repeat until paused.

    Each burst trains for ``refresh_every`` seconds, or for as long as the last refresh took if
    that was longer, so slow pictures (a wide network's boundary) never starve the training.
    A diverging step stops the loop: ``on_error(message)`` is called if given, else the
    ``NonFiniteError`` is raised from the task. ``on_stop()`` is called whenever the loop ends.
    """

    def __init__(self, pg, on_refresh: Callable[[], None] | None = None,
                 on_error: Callable[[str], None] | None = None, on_stop: Callable[[], None] | None = None):
        self.pg = pg
        self.on_refresh, self.on_error, self.on_stop = on_refresh, on_error, on_stop
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        """True while the loop is running."""
        return self._task is not None and not self._task.done()

    def start(self, refresh_every: float = 0.25) -> asyncio.Task:
        """Start the loop on the running event loop (once: a second call returns the same task)."""
        if not self.running:
            self._task = asyncio.get_event_loop().create_task(self._run(refresh_every))
        return self._task

    def pause(self) -> None:
        """Stop the loop after its current step."""
        if self.running:
            self._task.cancel()

    async def _run(self, refresh_every: float) -> None:
        refresh_took = 0.0
        try:
            while True:
                deadline = time.perf_counter() + max(refresh_every, refresh_took)
                while time.perf_counter() < deadline:
                    self.pg.step()
                if self.on_refresh is not None:
                    started = time.perf_counter()
                    self.on_refresh()
                    refresh_took = time.perf_counter() - started
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            pass
        except NonFiniteError as error:
            if self.on_error is None:
                raise
            self.on_error(str(error))
        finally:
            if self.on_stop is not None:
                self.on_stop()
