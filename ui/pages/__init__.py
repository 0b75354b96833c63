"""One service module per page: its cached computations, cost model and words.

A page is a view (views/<page>.py: widgets and layout), its service (ui/pages/<page>.py) and
its figures (ui/figures/<page>.py: arrays in, plotly figure out). What services share is here.
"""
from __future__ import annotations

from ui.budget import SESSION, Guard


def guard_note(guard: Guard) -> str | None:
    """What a page's wall-clock guard left out this run, in one sentence (None if nothing, or if
    the visitor has gone and nobody will read it)."""
    if guard.stopped_by == SESSION or not (guard.skipped or guard.cut):
        return None
    parts = ([f"{', '.join(guard.skipped)} not computed"] if guard.skipped else []) + \
            ([f"{', '.join(guard.cut)} cut short"] if guard.cut else [])
    return (f"The server was too busy to finish this page within {guard.seconds:g} s: "
            f"{'; '.join(parts)} this time. Change any setting to try again.")
