"""Wall-clock budgets: work that stops when its time is up or when its visitor has gone.

A cost model estimates what a link asks for before the work starts; a `Guard` holds whatever
the estimate said (a loaded machine, a wrong rate). Create one per piece of work with its
budget in seconds, and ask `should_stop()` between blocks of work (a training step, a block of
Jacobians); `allows(what)` asks the same before starting a part and remembers what was left out,
so the page can say so. A guard stops for good once either reason holds:
- "budget": `seconds` of wall clock have passed since it was created;
- "session": the browser tab that started this script run has gone (`session_alive`).

Work with nothing partial worth keeping raises `Stopped`; work whose first part is exact on its
own (the last steps of a curve) hands that part over in `Stopped.partial`. Being an exception,
a stop is never kept by st.cache_data as the answer.
"""
from __future__ import annotations

import time
from typing import Any, Callable

from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

BUDGET = "budget"
SESSION = "session"


def session_alive() -> bool:
    """False once the browser tab that started this script run has gone.

    When a tab closes, Streamlit (1.67, WebsocketSessionManager.disconnect_session) asks the
    script to stop and drops the session from the runtime's active sessions; the stop request
    only takes effect at the script's next st.* call, which a computation between two calls
    does not make. Outside a served script run (tests, benchmarks) it is always True.
    """
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None or not Runtime.exists():
        return True
    return Runtime.instance().is_active_session(ctx.session_id)


class Guard:
    """A wall-clock budget of `seconds` from now, for the session of this script run.

    stopped_by: None (not stopped), BUDGET or SESSION; once set it stays.
    skipped: the parts `allows` refused; cut: parts the page shortened (it adds them).
    alive and clock are for tests: by default `session_alive` and time.monotonic.
    """

    def __init__(self, seconds: float, *, alive: Callable[[], bool] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._alive = alive or session_alive
        self._clock = clock
        self._end = clock() + seconds
        self.stopped_by: str | None = None
        self.skipped: list[str] = []
        self.cut: list[str] = []

    def should_stop(self) -> bool:
        """True once the budget is spent or the session has gone (checked in that order)."""
        if self.stopped_by is None:
            if self._clock() >= self._end:
                self.stopped_by = BUDGET
            elif not self._alive():
                self.stopped_by = SESSION
        return self.stopped_by is not None

    def allows(self, what: str) -> bool:
        """True while work may start; otherwise remembers that `what` was not computed."""
        if not self.should_stop():
            return True
        self.skipped.append(what)
        return False

    def check(self) -> None:
        """Raise Stopped if the work must stop (for loops with nothing partial to keep)."""
        if self.should_stop():
            raise Stopped(self.stopped_by)


class Stopped(Exception):
    """Work given up by its Guard. why: BUDGET or SESSION; partial: what was done and is exact
    on its own (e.g. the last steps of a curve), or None."""

    def __init__(self, why: str | None, partial: Any = None):
        super().__init__(f"stopped ({why})")
        self.why = why
        self.partial = partial
