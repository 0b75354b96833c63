"""Model & weights: the equations of the chosen model and cell, its parameters as heatmaps and
editable tables (a gated cell's grouped by gate), reset, download and upload. Edits become
config.edits and reach every page.

The view: widgets and layout only; the files, uploads, edits and cost model are the page's
service (ui/pages/model.py), the heatmaps ui/figures/model.py."""
import streamlit as st

import rnn_core as rc
from ui import state
from ui.config import link_is_complete
from ui.notation import NOTATIONS, every_step_counts, model_block, shows_biases
from ui.pages import model as service
from ui.pages import guard_note
from ui.weights_io import MAX_FILE_BYTES
from ui.weights_table import array_from_table, editor_key, param_latex, parameter_count, table_of

UPLOAD_KEY = "weights_upload"
UPLOAD_RESULT = "_weights_upload_result"     # (file_id, ok, message) of the last processed file
EDITOR_TAB_KEY = "m_editor_tab"              # the weight table in view (a session setting)
LONG_TABLE_ROWS = 16                         # taller tables scroll
UPLOAD_RESULT_BOX = "weights_upload_result"  # the container of the last upload's message
HIDE_RESULT_BESIDE_REFUSAL_CSS = (f"<style>body:has(.st-key-{UPLOAD_KEY} [aria-invalid='true']) "
                                  f".st-key-{UPLOAD_RESULT_BOX} {{ display: none; }}</style>")


def apply_upload() -> None:
    """on_change of the uploader: read the file; on success adopt its weights (and sizes)."""
    upload = st.session_state.get(UPLOAD_KEY)
    if upload is None:
        st.session_state.pop(UPLOAD_RESULT, None)
        return
    ok, message = service.adopt_weights(upload.name, upload.getvalue())
    st.session_state[UPLOAD_RESULT] = (upload.file_id, ok, message)


def switch_cell() -> None:
    """on_click of the offer beside an upload for another cell: switch the cell, adopt the file."""
    upload = st.session_state.get(UPLOAD_KEY)
    ok, message = service.switch_cell_and_adopt()
    st.session_state[UPLOAD_RESULT] = (upload.file_id if upload is not None else None, ok, message)


def reset_weights() -> None:
    state.set_config(state.config().replace(edits=()), reset_widgets=False)


def weight_editor(name: str, params: rc.CellParams, n, *, titled: bool) -> None:
    """A data_editor of one parameter (under its symbol if `titled`); a changed cell becomes
    config.edits, then a rerun."""
    config = state.config()
    table = table_of(getattr(params, name), name, n)
    if titled:
        rows, cols = (table.shape[0], "") if table.shape[1] == 1 else table.shape
        st.markdown(f"${param_latex(n, config.cell, name)}$ &nbsp; ({rows}{f' × {cols}' if cols else ''})")
    edited = st.data_editor(
        table, key=editor_key(config, name), width="stretch",
        height="auto" if table.shape[0] <= LONG_TABLE_ROWS else 36 * LONG_TABLE_ROWS,
        column_config={c: st.column_config.NumberColumn(c, format="%.4f") for c in table.columns})
    changed, problem = service.take_table(config, name, array_from_table(edited, name, n))
    if problem:
        st.error(problem)
    if changed:
        st.rerun()


def edited_metric(config) -> None:
    st.metric("edited", len(config.edits), width="content", help="hand-edited entries (outlined in the heatmaps)")


def vanilla_spectrum(config, n) -> None:
    """W_hh's spectral radius and largest singular value as metrics, and how it was initialised."""
    W = n.plain_param("W_hh")
    radius, largest = service.spectrum(config)
    # a row that wraps: on a projector's narrow column a metric moves down instead of being cut
    with st.container(horizontal=True, gap="large"):
        st.metric(f"ρ({W})", f"{radius:.3f}", width="content",
                  help=f"spectral radius, the largest |eigenvalue|; the initialiser scales {W} to the "
                       "sidebar's ρ, hand edits can change it")
        st.metric(f"σ_max({W})", f"{largest:.3f}", width="content",
                  help="largest singular value: with γ = sup|f'| it bounds each step's gain, eq. (11)")
        edited_metric(config)
    st.caption(f"Initialiser: {config.init}, seed {config.seed}, {W} scaled to ρ = {config.rho:g}; "
               "biases start at zero.")


def gated_spectrum(config, n) -> None:
    """Each recurrent block's spectrum in a table, what it says about the gradient, the initialiser."""
    st.table(service.spectra_table(config, n))
    st.caption(service.gated_spectra_caption(config))
    edited_metric(config)
    st.caption(service.initialiser_caption(config))


config = state.config()
n = NOTATIONS[config.notation]
params = state.params()
guard = service.guard()

st.title("Model & weights")
st.caption(f"In the notation of {n.source} ({n.title}). Change the model in the sidebar; edit, "
           "upload or download its weights here. Every page uses these weights.")

cell = rc.get_cell(config.cell)
left, right = st.columns([1, 1] if config.presentation else [3, 2], gap="large")   # room for big metrics
with left:
    st.subheader("The model" if config.cell == "rnn" else f"The model: {cell.title}")
    every_step = every_step_counts(state.data().mask)
    if config.cell == "rnn":
        st.latex(model_block(n, activation=config.activation, loss=config.loss, reduction=config.reduction,
                             biases=shows_biases(n, config.activation, params.b_h, params.b_y),
                             every_step=every_step))
    else:
        st.latex(service.gated_block(n, config.cell, loss=config.loss, reduction=config.reduction,
                                     every_step=every_step))
        st.caption("σ is the logistic sigmoid and ⊙ the elementwise product; the gates' weights carry the "
                   "engine's names (those of Dive into Deep Learning 10.1–10.2).")
    if config.loss_at == "last":
        st.caption(f"Many-to-one: the mask ${n.at('m', 't')}$ is 1 at the last step only, so only "
                   f"${n.at(n.L, 'T')}$ counts.")
    if config.cell == "rnn":
        with st.expander("The same in the engine's names"):
            st.latex(n.mapping())
with right:
    st.subheader("Sizes and spectrum")
    count = f"{parameter_count(config.cell, config.D, config.H, config.O):,}".replace(",", "{,}")  # no space in TeX
    st.markdown(f"$T = {config.T}$ steps, $D = {config.D}$ inputs, $H = {config.H}$ hidden units, "
                f"$O = {config.O}$ outputs: ${service.count_formula(config.cell)} = {count}$ parameters.")
    (vanilla_spectrum if config.cell == "rnn" else gated_spectrum)(config, n)

st.subheader("Weights")
st.plotly_chart(service.heatmaps(config), key="weights_heatmaps", config={"displayModeBar": False})
if config.edits:
    st.caption("Outlined cells are hand-edited.")

st.subheader("Edit the weights")
st.caption("Type a new value into a cell and press Enter: the heatmaps and every page follow.")
# Lazy tabs: only the open tab's tables are built and sent, so a sidebar change redraws one
# parameter's table (vanilla) or one gate's three, not all (each data editor costs the browser
# a redraw). The key holds the cell: another cell's tab labels are another set of tabs.
editor_tabs = service.tabs(config.cell)
tabs = st.tabs([label for label, _ in editor_tabs], on_change="rerun",
               key=EDITOR_TAB_KEY if config.cell == "rnn" else f"{EDITOR_TAB_KEY}_{config.cell}")
for tab, (_, names) in zip(tabs, editor_tabs):
    if tab.open:
        with tab:
            for name in names:
                weight_editor(name, params, n, titled=len(names) > 1)

too_big = None
with st.container(horizontal=True):
    st.button("Reset to the initialiser", on_click=reset_weights, disabled=not config.edits,
              icon=":material/restart_alt:")
    if guard.allows("the weights files"):
        npz_bytes, json_bytes = service.weight_files(config)
        too_big = service.too_big_to_upload(npz_bytes)
        st.download_button("Download .npz", npz_bytes, file_name="bptt_weights.npz",
                           mime="application/octet-stream", on_click="ignore", icon=":material/download:")
        st.download_button("Download .json", json_bytes, file_name="bptt_weights.json",
                           mime="application/json", on_click="ignore", icon=":material/download:")
if note := guard_note(guard):
    st.info(note, icon=":material/timer:")
if too_big:
    st.info(too_big, icon=":material/upload_file:")
if not link_is_complete(config):
    st.info("These edits are too many for a share link: send the weights file with the link.",
            icon=":material/link_off:")

upload = st.file_uploader(
    f"Upload weights (.npz or .json, at most {MAX_FILE_BYTES // 2**20} MB): {service.arrays_line(config.cell)}",
    type=["npz", "json"], key=UPLOAD_KEY, on_change=apply_upload)
result = st.session_state.get(UPLOAD_RESULT)
if upload is not None and result is not None and result[0] == upload.file_id:
    # The browser refuses an over-limit file on its own chip without telling the server, so
    # the message about the previous file would stay beside it: CSS hides it meanwhile.
    st.html(HIDE_RESULT_BESIDE_REFUSAL_CSS)
    with st.container(key=UPLOAD_RESULT_BOX):
        # the message quotes the file's name and contents, which a stranger chose: plain text
        (st.success if result[1] else st.error)(state.literal_markdown(result[2]))
        if (other := service.pending_cell()) is not None:
            st.button(f"Switch the cell to {rc.get_cell(other).title} and use this file", on_click=switch_cell,
                      icon=":material/swap_horiz:", type="primary")
