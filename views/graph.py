"""Unrolled graph: the RNN through time, and the gradient flowing back from the losses to h_0.

The view: widgets and layout only. The numbers, caches, cost model and words are the page's
service (ui/pages/graph.py), the pictures ui/figures/graph.py and graph_details.py. The
backward animation runs in the browser (plotly frames): Play, Pause and the slider need no
round trip to the server.
"""
from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ui import export, state
from ui.config import Config
from ui.figures import graph as graph_figures
from ui.lessons import bar as lesson_bar
from ui.notation import NOTATIONS
from ui.pages import graph as service
from ui.pages import guard_note

GIF_KEY = "g_gif"
FOLLOW_KEY = "g_follow"        # the 'whole loss / one term' switch (its value lives in g_source)
FOLLOW = {"whole": "whole loss", "one": "one term"}
WIDE, COMPACT, EQUATION = "g_wide", "g_compact", "g_eq"     # containers styled by PAGE_CSS
PHONE_MAX_PX = 640
# The graph is drawn twice, for a wide screen and for a phone; the browser shows the one its
# width suits (the server does not know it). Eq. (7) is set a little smaller than other
# equations (on a projector, or a phone) so that its five lines fit the column; if it still
# does not, it scrolls inside its own block instead of widening the page.
PAGE_CSS = f"""<style>
@media (max-width: {PHONE_MAX_PX}px) {{ .st-key-{WIDE} {{ display: none; }}
  .st-key-{EQUATION} .katex {{ font-size: 0.7em; }} }}
@media (min-width: {PHONE_MAX_PX + 1}px) {{ .st-key-{COMPACT} {{ display: none; }} }}
.st-key-{EQUATION} .katex-display {{ overflow-x: auto; overflow-y: hidden; }}
</style>"""
PRESENTATION_CSS = f"<style>.st-key-{EQUATION} .katex {{ font-size: 0.95em; }}</style>"
# No toolbar: the axes are fixed, exports are below, and it covered the chart's title.
CHART_CONFIG = {"displayModeBar": False}


def _follow_switched(steps: list[int]) -> None:
    choice = st.session_state.get(FOLLOW_KEY)
    if choice is not None:          # None: the selected option clicked again; keep it
        service.follow(state.config(), 0 if choice == "whole" else steps[-1])


def _term_moved() -> None:
    service.follow(state.config(), st.session_state[state.widget_key("g_source")])


def source_control(config: Config, steps: list[int]) -> int:
    """0 (the whole loss) or the step s whose term L_s is followed alone: a two-way switch, then
    a slider over the steps that have a loss term (the last one first: the longest way back)."""
    config = service.followable(config, steps)
    L = NOTATIONS[config.notation].L
    st.session_state[FOLLOW_KEY] = "one" if config.g_source else "whole"
    st.segmented_control("Gradient of", options=list(FOLLOW), format_func=FOLLOW.get, key=FOLLOW_KEY,
                         on_change=_follow_switched, args=(steps,),
                         help=f"One term {L}_s shows how its gradient fades (or grows) going back in time; "
                              f"the whole loss adds every term's own direct part at each step.")
    if not config.g_source:
        return 0
    if len(steps) == 1:
        st.caption(f"{L}_{steps[0]} is the only loss term.")
        return steps[0]
    return state.view_widget("g_source", widget="select_slider", options=steps, label="Loss term followed, s",
                             on_change=_term_moved)


def view_controls(config: Config, steps: list[int]) -> tuple[graph_figures.GraphView, int]:
    T = config.T
    if config.presentation:      # large type: two wider columns, the colour switch under the first
        left, middle = st.columns(2, gap="large")
        right = left
    else:
        left, middle, right = st.columns(3)
    with left:
        source = source_control(config, steps)
    with middle:
        width = state.view_widget("g_window")
        if T > width:
            start = state.view_widget("g_start", max_value=T - width + 1)
        else:
            start = 1
            st.caption(f"All {T} steps are in view.")
    with right:
        # the schema's label is cut in a projector's half column
        split = state.view_widget("g_split", **({"label": "Colour direct / indirect"} if config.presentation else {}))
    view = graph_figures.GraphView(start=start, width=width, split=split, presentation=config.presentation)
    return view, source


def clicked_step(event, T: int, seen_key: str) -> int | None:
    """The step of a node (or edge) newly clicked in the chart, else None. A selection persists
    across reruns: `seen_key` remembers the one already acted on."""
    points = list(getattr(getattr(event, "selection", None), "points", None) or [])
    signature = repr([(p.get("curve_number"), p.get("point_index")) for p in points])
    if not points or st.session_state.get(seen_key) == signature:
        return None
    st.session_state[seen_key] = signature
    return service.step_of_point(points[0], T)


# ---- the page --------------------------------------------------------------------------------

def chart(key: Config, source: int, view: graph_figures.GraphView, notation: str, name: str) -> int | None:
    """One of the two graph charts in its container; the step of a node clicked in it, if any."""
    with st.container(key=name):
        event = st.plotly_chart(service.graph_figure(key, source, view, notation), key=f"{name}_chart", theme=None,
                                on_select="rerun", selection_mode="points", config=CHART_CONFIG)
    return clicked_step(event, key.T, f"{name}_seen")


def graph_section(config: Config, key: Config, view: graph_figures.GraphView, wide: graph_figures.GraphView,
                  source: int, guard) -> None:
    """The graph for a wide screen (`wide`: `view` fitted to its mode) and for a phone."""
    st.html(PAGE_CSS)
    narrow = graph_figures.fitted_view(replace(view, presentation=False, compact=True), config.T, source)
    steps = [chart(key, source, wide, config.notation, WIDE)]
    if guard.allows("the phone layout"):
        steps.append(chart(key, source, narrow, config.notation, COMPACT))
    if config.presentation and wide.width < min(view.width, config.T):
        st.caption(f"Presentation mode draws the last {wide.width} of the {view.width} steps in view, "
                   "so that a projector shows them large.")
    st.caption(
        "Press **▶ Play** to watch the backward pass sweep the steps in view from right to left "
        "(from the followed loss term, if it is in view) and reach h₀; the grey veil covers the steps "
        "it has not reached yet. Colour is log₁₀ of the "
        "norm of ∂L/∂node; an edge is as wide as the gradient it carries back (the recurrent edge into "
        "hₜ carries the indirect part of ∂L/∂hₜ, the edge from oₜ the direct part). Below: the "
        "parameter gradients summed over the steps reached so far, and ‖∂L/∂hₜ‖ over the whole sequence "
        "(shaded: the steps in view). "
        "Click a node to see its step in detail. The weights are named once, at the last step in view: "
        "the same matrices act at every step.")
    if words := service.cell_caption(config.cell, view.width <= graph_figures.MAX_GATE_LABELS):
        st.caption(words)
    result = state.bptt_result(key)
    flow, _ = service.flow_and_sums(key, source)
    for note in service.overflow_notes(result, flow):
        st.warning(note, icon=":material/warning:")
    if config.loss_at == "last" or len(service.loss_steps(key)) < config.T:
        st.info("Loss terms exist only at the steps drawn with an L node (the mask is zero elsewhere): "
                "every other step gets its gradient only through the recurrence.", icon=":material/info:")
    clicked = next((s for s in steps if s is not None), None)
    if lesson_bar.take_clicked_step(clicked):     # a lesson's "click the node" question: the prediction
        st.rerun()
    service.show_step(config, clicked)


def details_section(key: Config, source: int, guard) -> None:
    config = state.config()
    notation = NOTATIONS[config.notation]
    st.subheader("One step in detail")
    t = state.view_widget("g_step", max_value=config.T) if config.T > 1 else 1   # a slider needs two values
    flow, _ = service.flow_and_sums(key, source)
    if config.presentation:
        st.html(PRESENTATION_CSS)
    with st.container(key=EQUATION):
        st.latex(service.step_equation(flow, t, notation))
    st.caption(service.equation_caption(config.cell, t) + " Vectors longer than 3 entries show their first "
               "ones and their norm.")
    if config.truncation != "full":
        st.caption("With truncated BPTT the indirect part follows the truncation rule (it is cut or "
                   "rescaled at some steps), so it is not exactly the full-BPTT formula above.")
    if st.button(f"Derive it step by step at t = {t}", icon=":material/functions:",
                 help="Opens the Derivation page at this step, at the backward recursion"
                      + (" (7)." if config.cell == "rnn" else " of the cell.")):
        service.derive_at(config, t)
    if not guard.allows("the step's numbers as a chart"):
        return
    st.plotly_chart(service.details_figure(key, source, t, config.notation, config.presentation), key="g_details",
                    theme=None, config=CHART_CONFIG)
    st.caption(service.details_caption(config.cell))


def export_section(config: Config, key: Config, view: graph_figures.GraphView, source: int) -> None:
    with st.expander("Export for slides"):
        problem = export.kaleido_problem()
        if problem:
            st.info(problem, icon=":material/info:")
        t = service.front_nearest(config, view, source)
        left, right = st.columns(2)
        with left:
            if st.button(f"Make a PNG of the frame where the pass reached t = {t}", disabled=bool(problem)):
                with st.spinner("Rendering the frame..."):
                    st.session_state["g_png"] = (config, service.png_bytes(key, source, view, config.notation, t))
            stored = st.session_state.get("g_png")
            if stored and stored[0] == config:
                st.download_button("Download PNG", stored[1], file_name=f"bptt_graph_t{t}.png", mime="image/png")
        with right:
            if st.button("Make an animated GIF of the backward pass", disabled=bool(problem)):
                with st.spinner("Rendering every frame (this takes a while)..."):
                    st.session_state[GIF_KEY] = (config, service.gif_bytes(key, source, view, config.notation))
            stored = st.session_state.get(GIF_KEY)
            if stored and stored[0] == config:
                st.download_button("Download GIF", stored[1], file_name="bptt_backward_pass.gif", mime="image/gif")
        st.caption(f"The GIF shows at most {export.MAX_GIF_FRAMES} frames (every k-th of a longer pass). "
                   "The PNG shows the frame nearest the step chosen under 'One step in detail'.")


def main() -> None:
    config = state.config()
    key = service.key(config)
    st.header("Unrolled graph")
    st.markdown(service.introduction(config.cell))
    guard = service.guard()
    view, source = view_controls(config, service.loss_steps(key))
    wide = graph_figures.fitted_view(view, config.T, source)
    graph_section(state.config(), key, view, wide, source, guard)
    details_section(key, source, guard)
    export_section(state.config(), key, wide, source)
    if note := guard_note(guard):
        st.info(note, icon=":material/timer:")


main()
