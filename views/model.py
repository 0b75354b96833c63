"""Model & weights: the equations of the chosen model, its five parameters as heatmaps and
editable tables, reset, download and upload. Edits become config.edits and reach every page.

The view: widgets and layout only; the files, uploads, edits and cost model are the page's
service (ui/pages/model.py), the heatmaps ui/figures/model.py."""
import streamlit as st

import rnn_core as rc
from ui import state
from ui.config import link_is_complete
from ui.figures.model import MAX_EDIT_MARKS, weight_heatmaps
from ui.notation import NOTATIONS, every_step_counts, model_block, shows_biases
from ui.pages import model as service
from ui.pages import guard_note
from ui.weights_io import MAX_FILE_BYTES
from ui.weights_table import array_from_table, editor_key, table_of

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


def reset_weights() -> None:
    state.set_config(state.config().replace(edits=()), reset_widgets=False)


def weight_editor(name: str, params: rc.Params, n) -> None:
    """A data_editor of one parameter; a changed cell becomes config.edits, then a rerun."""
    config = state.config()
    table = table_of(getattr(params, name), name, n)
    edited = st.data_editor(
        table, key=editor_key(config, name), width="stretch",
        height="auto" if table.shape[0] <= LONG_TABLE_ROWS else 36 * LONG_TABLE_ROWS,
        column_config={c: st.column_config.NumberColumn(c, format="%.4f") for c in table.columns})
    changed, problem = service.take_table(config, name, array_from_table(edited, name, n))
    if problem:
        st.error(problem)
    if changed:
        st.rerun()


config = state.config()
n = NOTATIONS[config.notation]
params = state.params()
guard = service.guard()

st.title("Model & weights")
st.caption(f"In the notation of {n.source} ({n.title}). Change the model in the sidebar; edit, "
           "upload or download its weights here. Every page uses these weights.")

left, right = st.columns([1, 1] if config.presentation else [3, 2], gap="large")   # room for big metrics
with left:
    st.subheader("The model")
    st.latex(model_block(n, activation=config.activation, loss=config.loss, reduction=config.reduction,
                         biases=shows_biases(n, config.activation, params.b_h, params.b_y),
                         every_step=every_step_counts(state.data().mask)))
    if config.loss_at == "last":
        st.caption(f"Many-to-one: the mask ${n.at('m', 't')}$ is 1 at the last step only, so only "
                   f"${n.at(n.L, 'T')}$ counts.")
    with st.expander("The same in the engine's names"):
        st.latex(n.mapping())
with right:
    st.subheader("Sizes and spectrum")
    st.markdown(f"$T = {config.T}$ steps, $D = {config.D}$ inputs, $H = {config.H}$ hidden units, "
                f"$O = {config.O}$ outputs.")
    W = n.plain_param("W_hh")
    radius, largest = service.spectrum(config)
    # a row that wraps: on a projector's narrow column a metric moves down instead of being cut
    with st.container(horizontal=True, gap="large"):
        st.metric(f"ρ({W})", f"{radius:.3f}", width="content",
                  help=f"spectral radius, the largest |eigenvalue|; the initialiser scales {W} to the "
                       "sidebar's ρ, hand edits can change it")
        st.metric(f"σ_max({W})", f"{largest:.3f}", width="content",
                  help="largest singular value: with γ = sup|f'| it bounds each step's gain, eq. (11)")
        st.metric("edited", len(config.edits), width="content", help="hand-edited entries (outlined in the heatmaps)")
    st.caption(f"Initialiser: {config.init}, seed {config.seed}, {W} scaled to ρ = {config.rho:g}; "
               "biases start at zero.")

st.subheader("Weights")
# outlines only where they can be told apart (an upload edits every entry: none then)
edited_entries = ({(name, index) for name, index, _ in config.edits}
                  if len(config.edits) <= MAX_EDIT_MARKS else frozenset())
st.plotly_chart(weight_heatmaps(params, n, edited=edited_entries, presentation=config.presentation),
                key="weights_heatmaps", config={"displayModeBar": False})
if config.edits:
    st.caption("Outlined cells are hand-edited.")

st.subheader("Edit the weights")
st.caption("Type a new value into a cell and press Enter: the heatmaps and every page follow.")
# Lazy tabs: only the open tab's table is built and sent, so a sidebar change redraws one
# table, not five (each data editor costs the browser a redraw).
tabs = st.tabs([name for name in rc.PARAM_NAMES], key=EDITOR_TAB_KEY, on_change="rerun")
for tab, name in zip(tabs, rc.PARAM_NAMES):
    if tab.open:
        with tab:
            weight_editor(name, params, n)

with st.container(horizontal=True):
    st.button("Reset to the initialiser", on_click=reset_weights, disabled=not config.edits,
              icon=":material/restart_alt:")
    if guard.allows("the weights files"):
        npz_bytes, json_bytes = service.weight_files(config)
        st.download_button("Download .npz", npz_bytes, file_name="bptt_weights.npz",
                           mime="application/octet-stream", on_click="ignore", icon=":material/download:")
        st.download_button("Download .json", json_bytes, file_name="bptt_weights.json",
                           mime="application/json", on_click="ignore", icon=":material/download:")
if note := guard_note(guard):
    st.info(note, icon=":material/timer:")
if not link_is_complete(config):
    st.info("These edits are too many for a share link: send the weights file with the link.",
            icon=":material/link_off:")

upload = st.file_uploader(
    f"Upload weights (.npz or .json, at most {MAX_FILE_BYTES // 2**20} MB): the five arrays "
    "W_xh, W_hh, b_h, W_hy, b_y", type=["npz", "json"], key=UPLOAD_KEY, on_change=apply_upload)
result = st.session_state.get(UPLOAD_RESULT)
if upload is not None and result is not None and result[0] == upload.file_id:
    # The browser refuses an over-limit file on its own chip without telling the server, so
    # the message about the previous file would stay beside it: CSS hides it meanwhile.
    st.html(HIDE_RESULT_BESIDE_REFUSAL_CSS)
    with st.container(key=UPLOAD_RESULT_BOX):
        # the message quotes the file's name and contents, which a stranger chose: plain text
        (st.success if result[1] else st.error)(state.literal_markdown(result[2]))
