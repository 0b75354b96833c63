"""The Home page's service: what each page shows (in the reader's notation) and what a preset's
button does.

views/home.py lays out the text, the page links and the preset buttons and calls this module.
Home computes nothing from the engine (its sentences are symbols, not numbers), so it has no
cost model.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import state
from ui.config import to_query
from ui.notation import Notation, fill
from ui.presets import PRESETS

ROOT = Path(__file__).resolve().parents[2]
OPEN_KEY = "_preset_page"           # the page a preset button asked for, opened by the next run

# What each page shows, in the order of the navigation (pages not written yet are left out);
# <name> is a symbol written in the reader's notation (ui.notation.fill).
PAGE_SUMMARIES = (
    ("views/lessons.py", "Guided lessons: predict what the model will do, then see the answer computed live. "
                         "The place to start."),
    ("views/graph.py", "The network unrolled over time, coloured by gradient size; play the gradient "
                       "flowing back from step T to step 1 (for an LSTM, along its memory row c too)."),
    ("views/vanishing.py", r"How $\lVert\partial <h_T>/\partial <h_k>\rVert$ shrinks or grows with the "
                           r"distance $T - k$, the eigenvalues of $<W_hh>$ and the bound that explains it; "
                           "the gates that keep it alive in an LSTM or a GRU, and the three cells compared."),
    ("views/model.py", "The equations of the current model, its weight matrices (an LSTM's or a GRU's grouped "
                       "by gate) as heatmaps and tables you can edit, upload and download."),
    ("views/derivation.py", "Every equation of BPTT in your textbook's notation with the live numbers at "
                            "a step you pick, for the vanilla RNN, the LSTM and the GRU, checked against "
                            "finite differences."),
    ("views/training.py", "Train on small built-in tasks; compare full, truncated and randomized BPTT, "
                          "gradient clipping, and the three cells on tasks only a gated cell learns."),
)


def page_summaries(n: Notation) -> list[tuple[str, str]]:
    """(page file, what it shows in notation n) of every page that exists."""
    return [(file, fill(text, n)) for file, text in PAGE_SUMMARIES if (ROOT / file).exists()]


def apply_preset(key: str) -> None:
    """Button callback: the preset's config, set before app.py reads the widgets; the script then
    switches to the preset's page (`open_preset_page`), a plain rerun as far as the callback knows."""
    state.set_config(PRESETS[key].apply(state.config()))
    st.session_state[OPEN_KEY] = PRESETS[key].page


def open_page(page: str) -> None:
    """Button callback: open `page` in the next run (a callback cannot switch pages)."""
    st.session_state[OPEN_KEY] = page


def open_preset_page() -> None:
    """Switch to the page a preset asked for, its settings already in the URL: the link is
    right from the page's first run, even if that run is cut short."""
    page = st.session_state.pop(OPEN_KEY, None)
    if page is not None:
        st.switch_page(page, query_params=to_query(state.config()))
