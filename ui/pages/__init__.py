"""One service module per page: its cached computations, cost model and words.

A page is a view (views/<page>.py: widgets and layout), its service (ui/pages/<page>.py) and
its figures (ui/figures/<page>.py: arrays in, plotly figure out). What services share is here.
"""
from __future__ import annotations

import plotly.graph_objects as go

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


class SentFigure(go.Figure):
    """A cached figure that st.plotly_chart turns into a dict once, not on every rerun.

    st.plotly_chart (Streamlit 1.67) calls figure.to_dict() on every run, a deep copy of every
    frame (~20 ms for the ρ scrubber's 39 frames, against ~2 ms to encode the dict); a cached
    figure is never changed, so its dict is made once and handed back (callers must not change it).
    """

    def to_dict(self) -> dict:
        if getattr(self, "_sent", None) is None:
            self._sent = super().to_dict()
        return self._sent


def sent(fig: go.Figure) -> SentFigure:
    """`fig` as a SentFigure (the same traces, layout and frames, not validated again)."""
    fig.__class__ = SentFigure          # go.Figure(fig) would validate every frame again (~60 ms)
    return fig
