"""Home: what BPTT is, where to start (the lessons), what each page shows, one-click lecture presets
and the share link.

The view; the page summaries and what a preset button does are its service (ui/pages/home.py)."""
import streamlit as st

from ui import sidebar, state
from ui.notation import NOTATIONS, summary
from ui.pages import home as service
from ui.presets import PRESETS

PAGES_PER_ROW = 3
PRESETS_PER_ROW = 4
PRESENTATION_PRESETS_PER_ROW = 3     # larger text needs wider buttons


def grid(items: list, per_row: int):
    """Rows of (column, item) pairs, `per_row` columns each; the last row's spare columns stay empty."""
    for start in range(0, len(items), per_row):
        yield zip(st.columns(per_row), items[start:start + per_row])


service.open_preset_page()
config = state.config()
n = NOTATIONS[config.notation]
model, jacobian = summary(n)
st.title("BPTT Explorer")
st.markdown(
    f"A recurrent network applies the **same weights at every step**: {model}. "
    "**Backpropagation through time** unrolls this loop into a deep feed-forward graph, one layer per "
    f"step, and runs ordinary backpropagation on it. The gradient of ${n.param('W_hh')}$ then sums a "
    "contribution from every step, and each contribution travels back through a product of Jacobians "
    f"{jacobian}, which is why gradients **vanish** or **explode** over long sequences. The sidebar's "
    "**Cell** swaps the vanilla RNN for an **LSTM** or a **GRU**, whose gates decide how much of the state "
    "(and so of the gradient) each step keeps. Every number here is computed live from the model in the "
    f"sidebar, written in the notation of {n.source}.")

with st.container(border=True):
    st.markdown("**New here? Start with a lesson.** Six short guided paths through the app: at each step you "
                "predict (a choice, a number or a step), then reveal the answer computed live, with the reason.")
    st.button("Start here: the lessons", key="open_lessons", type="primary", icon=":material/school:",
              on_click=service.open_page, args=("views/lessons.py",))

st.subheader("The pages")
for row in grid(service.page_summaries(n), PAGES_PER_ROW):
    for column, (file, text) in row:
        with column.container(border=True):
            st.page_link(file)
            st.caption(text)

st.subheader("Lecture presets")
st.caption("One click sets the model in the sidebar and opens the page that shows the lesson; every "
           "other page shows the same model. The highlighted preset is in use until a setting changes.")
per_row = PRESENTATION_PRESETS_PER_ROW if config.presentation else PRESETS_PER_ROW
for row in grid(list(PRESETS.values()), per_row):
    for column, preset in row:
        active = preset.is_active(config)
        with column.container(border=True):
            # marked by its colour and by a tick, for readers who cannot tell the colours apart
            st.button(preset.title, key=f"preset_{preset.key}", on_click=service.apply_preset, args=(preset.key,),
                      width="stretch", type="primary" if active else "secondary",
                      icon=":material/check_circle:" if active else None)
            st.caption(preset.text(config.notation))
            st.caption(preset.opens_text(config.notation))

st.subheader("Share this view")
st.caption("This link opens the app with exactly these settings (hand-edited weights included while "
           "they fit). *Presentation mode* in the sidebar enlarges the text for a projector.")
sidebar.share_link_body(config)
