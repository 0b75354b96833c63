"""Home: what BPTT is, what each page shows, one-click lecture presets and the share link."""
from pathlib import Path

import streamlit as st

from ui import sidebar, state
from ui.config import to_query
from ui.notation import NOTATIONS, fill, summary
from ui.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
PAGES_PER_ROW = 3
PRESETS_PER_ROW = 4
PRESENTATION_PRESETS_PER_ROW = 3     # larger text needs wider buttons
OPEN_KEY = "_preset_page"           # the page a preset button asked for, opened by this script

# What each page shows, in the order of the navigation (pages not written yet are left out);
# <name> is a symbol written in the reader's notation (ui.notation.fill).
PAGE_SUMMARIES = (
    ("views/graph.py", "The network unrolled over time, coloured by gradient size; play the gradient "
                       "flowing back from step T to step 1."),
    ("views/vanishing.py", r"How $\lVert\partial <h_T>/\partial <h_k>\rVert$ shrinks or grows with the "
                           r"distance $T - k$, the eigenvalues of $<W_hh>$ and the bound that explains it."),
    ("views/model.py", "The equations of the current model, its five weight matrices as heatmaps and "
                       "tables you can edit, upload and download."),
    ("views/derivation.py", "Every equation of BPTT in your textbook's notation with the live numbers at "
                            "a step you pick, checked against finite differences."),
    ("views/training.py", "Train on small built-in tasks; compare full, truncated and randomized BPTT "
                          "and gradient clipping."),
)


def grid(items: list, per_row: int):
    """Rows of (column, item) pairs, `per_row` columns each; the last row's spare columns stay empty."""
    for start in range(0, len(items), per_row):
        yield zip(st.columns(per_row), items[start:start + per_row])


def apply_preset(key: str) -> None:
    """Button callback: the preset's config, set before app.py reads the widgets; the script then
    switches to the preset's page (`open_preset_page`), a plain rerun as far as the callback knows."""
    state.set_config(PRESETS[key].apply(state.config()))
    st.session_state[OPEN_KEY] = PRESETS[key].page


def open_preset_page() -> None:
    """Switch to the page a preset asked for, its settings already in the URL: the link is
    right from the page's first run, even if that run is cut short."""
    page = st.session_state.pop(OPEN_KEY, None)
    if page is not None:
        st.switch_page(page, query_params=to_query(state.config()))


open_preset_page()
config = state.config()
n = NOTATIONS[config.notation]
model, jacobian = summary(n)
st.title("BPTT Explorer")
st.markdown(
    f"A recurrent network applies the **same weights at every step**: {model}. "
    "**Backpropagation through time** unrolls this loop into a deep feed-forward graph, one layer per "
    f"step, and runs ordinary backpropagation on it. The gradient of ${n.param('W_hh')}$ then sums a "
    "contribution from every step, and each contribution travels back through a product of Jacobians "
    f"{jacobian}, which is why gradients **vanish** or **explode** over long sequences. Every number "
    f"here is computed live from the model in the sidebar, written in the notation of {n.source}.")

st.subheader("The pages")
written = [(file, text) for file, text in PAGE_SUMMARIES if (ROOT / file).exists()]
for row in grid(written, PAGES_PER_ROW):
    for column, (file, text) in row:
        with column.container(border=True):
            st.page_link(file)
            st.caption(fill(text, n))

st.subheader("Lecture presets")
st.caption("One click sets the model in the sidebar and opens the page that shows the lesson; every "
           "other page shows the same model. The highlighted preset is in use until a setting changes.")
per_row = PRESENTATION_PRESETS_PER_ROW if config.presentation else PRESETS_PER_ROW
for row in grid(list(PRESETS.values()), per_row):
    for column, preset in row:
        active = preset.is_active(config)
        with column.container(border=True):
            # marked by its colour and by a tick, for readers who cannot tell the colours apart
            st.button(preset.title, key=f"preset_{preset.key}", on_click=apply_preset, args=(preset.key,),
                      width="stretch", type="primary" if active else "secondary",
                      icon=":material/check_circle:" if active else None)
            st.caption(preset.text(config.notation))
            st.caption(preset.opens_text(config.notation))

st.subheader("Share this view")
st.caption("This link opens the app with exactly these settings (hand-edited weights included while "
           "they fit). *Presentation mode* in the sidebar enlarges the text for a projector.")
sidebar.share_link_body(config)
