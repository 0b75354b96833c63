"""Vanishing & exploding: why the gradient through time fades or blows up, and when.

Reads the config, asks rnn_core (through ui.vanishing, cached here on a Config) for
||dh_T/dh_k|| (eq. (8)), its bound (eq. (11)), the spectrum of W_hh, all pairs ||dh_t/dh_k||,
||dL/dh_t|| and the per-step factors, and hands the arrays to ui.figures.vanishing.
What one run computes is planned by ui.vanishing.plan within its CPU budget and stopped by a
wall-clock Guard; whatever was shrunk or skipped is said in a note next to it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

import rnn_core as rc
from rnn_core.jacobians import StepFactorStats
from rnn_core.spectral import jacobian_bound, singular_values
from ui import state
from ui import vanishing as vn
from ui.budget import SESSION, Guard, Stopped
from ui.config import FIELD_BY_NAME, MAX_RADII, Config, parse
from ui.keys import EXACT
from ui.figures import vanishing as fv
from ui.notation import NOTATIONS, Notation

NORM_LABELS = {"2": "spectral ‖·‖₂", "fro": "Frobenius ‖·‖_F"}
AXIS_LABELS = {"k": "step k", "distance": "distance T − k"}
ACTIVATION_LABELS = {"tanh": "tanh", "relu": "ReLU", "sigmoid": "sigmoid", "identity": "identity"}
SECTION_LABELS = {"sweeps": "Sweeps", "spectrum": "Spectrum", "pairs": "All pairs and ∂L/∂h", "steps": "Why it fades",
                  "all": "Everything"}
# Radii offered in the sweep's multiselect; any other value in range can be typed in.
RADIUS_CHOICES = (0.25, 0.5, 0.75, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0)
RADII_KEY = "v_radii_pick"
METRIC_WIDTH = 220               # px: each metric's share of a wrapping row
RADII_MESSAGES = "v_radii_messages"
CACHE = dict(max_entries=32, show_spinner=False, hash_funcs=EXACT)
# A link draws at most 1 + MAX_RADII + 4 curves: the curve cache holds those of 8 such links, so
# one link can never evict more than an eighth of what other visitors are looking at (a curve is
# at most 500 floats: the whole cache stays under 1 MB).
CURVE_ENTRIES = 8 * (1 + MAX_RADII + len(rc.ACTIVATIONS))


# ---- computations, cached on the model's config (never on arrays) ---------------------------

def _inputs(cfg: Config) -> tuple[rc.Params, np.ndarray]:
    return state.params(cfg), state.data(cfg).xs


@st.cache_data(**{**CACHE, "max_entries": CURVE_ENTRIES})
def norm_curve(cfg: Config, norm: str, window: int | None = None, _guard: Guard | None = None) -> np.ndarray:
    return vn.norm_curve(*_inputs(cfg), cfg.activation, norm, window, guard=_guard)


def guarded_curve(guard: Guard, what: str, cfg: Config, norm: str, window: int | None = None, *,
                  keep_tail: bool) -> np.ndarray | None:
    """The curve; if the guard stops it while it is computed, its exact last steps
    (keep_tail: the main curve, which always gets at least its first block of steps) or None
    (a sweep curve, whose chart needs curves of equal lengths)."""
    if not keep_tail and not guard.allows(what):
        return None
    try:
        return norm_curve(cfg, norm, window, _guard=guard)
    except Stopped as stopped:
        if not keep_tail:
            guard.skipped.append(what)
            return None
        guard.cut.append(f"{what} (its last {stopped.partial.shape[0]} steps)")
        return stopped.partial


@st.cache_data(**CACHE)
def pairwise(cfg: Config, norm: str, window: int) -> np.ndarray:
    return vn.pairwise(*_inputs(cfg), cfg.activation, norm, window)


@st.cache_data(**CACHE)
def factor_stats(cfg: Config, window: int) -> StepFactorStats:
    return vn.factor_stats(*_inputs(cfg), cfg.activation, window)


@st.cache_data(**CACHE)
def dl_dh_tail(cfg: Config, window: int) -> np.ndarray:
    """dL/dh_t of the last `window` steps; cfg is the model with its truncation and loss."""
    return vn.dl_dh(state.params(cfg), state.data(cfg), cfg, window)


def dl_dh(config: Config, window: int) -> np.ndarray:
    """(window, H): the whole run's dL/dh_t (shared with the other pages) or its last steps."""
    # keyed on what the gradient depends on: a page setting must not add a shared cache entry
    model = vn.model_only(config, vn.MODEL_GROUPS + ("truncation",))
    if window == config.T:
        return state.bptt_result(model).dL_dh
    return dl_dh_tail(model, window)


@st.cache_data(**CACHE)
def derivatives(cfg: Config) -> np.ndarray:
    return vn.derivatives(*_inputs(cfg), cfg.activation)


@st.cache_data(**CACHE)
def spectrum(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues (H,) complex and the singular values (H,) of W_hh."""
    W_hh = state.params(cfg).W_hh
    return np.linalg.eigvals(W_hh), singular_values(W_hh)


# ---- widgets and notes ---------------------------------------------------------------------

def store_radii() -> None:
    """on_change of the radii multiselect: validated by the schema, kept in the config and URL."""
    config, messages = parse({"v_radii": st.session_state[RADII_KEY]}, base=state.config())
    state.set_config(config, reset_widgets=False)
    st.session_state[RADII_MESSAGES] = messages          # shown by radii_widget in the rerun


def radii_widget(config: Config) -> None:
    """A multiselect of spectral radii; other values can be typed. An empty choice is refused
    by the schema, so the last radius stays."""
    current = [float(r) for r in config.v_radii]
    if st.session_state.get(RADII_KEY) != current:
        st.session_state[RADII_KEY] = current
    field = FIELD_BY_NAME["v_radii"]
    state.warn_once(st.session_state.pop(RADII_MESSAGES, []))
    st.multiselect(field.label, sorted(set(RADIUS_CHOICES) | set(current)), key=RADII_KEY,
                   format_func=lambda r: f"{float(r):g}", accept_new_options=True, on_change=store_radii,
                   help=f"pick radii or type one ({field.lo:g} to {field.hi:g}); at least one stays")


def show_notes(notes: list[str]) -> None:
    for note in notes:
        st.info(note, icon=":material/info:")


def window_note(window: int, T: int, what: str) -> None:
    if 0 < window < T:
        st.info(f"At this size {what} would take too long to compute on every change: it covers the last "
                f"{window} of the {T} steps ({T - window + 1} to {T}), with exact values.", icon=":material/speed:")


def skipped_note(guard: Guard) -> None:
    """What the wall-clock guard stopped, if anything (nothing when the visitor has gone)."""
    if guard.stopped_by != SESSION and (guard.skipped or guard.cut):
        parts = ([f"{', '.join(guard.skipped)} not computed"] if guard.skipped else []) + \
                ([f"{', '.join(guard.cut)} cut short"] if guard.cut else [])
        st.warning(f"The server was too busy to finish this page within {vn.GUARD_SECONDS:g} s: "
                   f"{'; '.join(parts)} this time. Change any setting to try again.",
                   icon=":material/hourglass_disabled:")


# ---- the page ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Page:
    """What every section of one run shares: the config, the plan, the guard and the main curve."""

    config: Config
    model: Config                  # the config without view settings: the caches' key
    params: rc.Params
    nt: Notation
    plan: vn.Plan
    guard: Guard
    axis: str
    norms: np.ndarray              # ||dh_T/dh_k|| (W,) in plan.norm, the last plan.main_window steps
    summary: vn.CurveSummary
    eigenvalues: np.ndarray
    singular: np.ndarray
    gamma: float

    @property
    def rho(self) -> float:
        return float(np.max(np.abs(self.eigenvalues)))

    @property
    def first_step(self) -> int:
        return self.config.T - self.norms.shape[0] + 1

    def math(self, name: str) -> str:
        """Inline maths for captions and notes, in the user's notation."""
        nt, hT, hk = self.nt, self.nt.at(self.nt.h, "T"), self.nt.at(self.nt.h, "k")
        return {"W": f"${nt.param('W_hh')}$", "hT": f"${hT}$", "a_t": f"${nt.at(nt.a, 't')}$",
                "factor": f"${nt.step_jacobian('t')}$", "Wstep": f"${nt.recurrent_matrix()}$",
                "jac": rf"$\lVert \partial {hT} / \partial {hk} \rVert$",
                "jac_tk": rf"$\lVert \partial {nt.at(nt.h, 't')} / \partial {hk} \rVert$",
                "dLdh": rf"$\lVert \partial {nt.L} / \partial {nt.at(nt.h, 't')} \rVert$"}[name]


def introduction(nt: Notation) -> None:
    hT, hk, W = nt.at(nt.h, "T"), nt.at(nt.h, "k"), nt.param("W_hh")
    st.title("Vanishing & exploding gradients")
    st.markdown(
        "How much does an early state still move the last one? Backpropagation through time multiplies one "
        "factor per step: if those factors are below 1 the product fades geometrically (**vanishing**), "
        "above 1 it blows up (**exploding**).")
    st.latex(rf"(8)\quad \frac{{\partial {hT}}}{{\partial {hk}}} = \prod_{{t=k+1}}^{{T}} "
             rf"{nt.step_jacobian('t')}"
             rf"\qquad\qquad (11)\quad \Big\lVert \frac{{\partial {hT}}}{{\partial {hk}}} \Big\rVert_2 "
             rf"\le \big(\gamma\, \sigma_{{\max}}({W})\big)^{{T-k}}")


def prepare(config: Config, guard: Guard) -> Page:
    """The controls above the main curve, the cost plan and the main curve's numbers."""
    nt = NOTATIONS[config.notation]
    model = vn.model_only(config)
    # on a projector the chart comes first: its two options fold into a popover
    controls = st.columns([1.3, 1.3, 3]) if not config.presentation else \
        [st.popover("Chart options", icon=":material/tune:")] * 2 + [st.container()]
    with controls[0]:
        requested = state.view_widget("v_norm", widget="radio", horizontal=True, format_func=NORM_LABELS.get)
    with controls[1]:
        axis = state.view_widget("v_axis", widget="radio", horizontal=True, format_func=AXIS_LABELS.get)
    plan = vn.plan(config)
    if plan.norm != requested:
        controls[2].info(f"At T = {config.T}, H = {config.H} spectral norms of every curve would take too "
                         "long to compute: the page uses the Frobenius norm (its bound carries an extra √H).",
                         icon=":material/speed:")
    with st.spinner("Multiplying Jacobians…"):
        norms = guarded_curve(guard, "the main curve", model, plan.norm,
                              plan.main_window if plan.main_window < config.T else None, keep_tail=True)
        eigenvalues, singular = spectrum(model)
    return Page(config=config, model=model, params=state.params(model), nt=nt, plan=plan, guard=guard, axis=axis,
                norms=norms, summary=vn.summarise(norms), eigenvalues=eigenvalues, singular=singular,
                gamma=rc.get_activation(config.activation).gamma)


def metrics(page: Page) -> None:
    """Four numbers above the main curve. Values are short (a number and a word) so that they
    are never cut; what qualifies them is the line under each."""
    config, summary, jac = page.config, page.summary, page.math("jac")
    # a row that wraps: four large values share one row where they fit (a 1920 px projector),
    # and move down instead of being cut where they do not
    row = st.container(horizontal=True, gap="large")
    cells = [row] * 4
    finite = np.isfinite(summary.factor)
    cells[0].metric("Fitted per-step factor", f"×{summary.factor:#.3g}" if finite else "—",
                    delta=summary.kind if finite else summary.label, delta_color="off", delta_arrow="off",
                    help=f"r in {jac} ≈ c·r^(T−k): a least-squares line through the log of the curve",
                    width=METRIC_WIDTH)
    value, note = vn.horizon_value(summary)
    cells[1].metric("Memory horizon (1 %)", value, delta=note, delta_color="off", delta_arrow="off",
                    help=f"the largest distance T − k at which {jac} is still at least 1 % of its value at k = T; "
                         "when the curve is still above 1 % at its first step, its fitted trend is extended "
                         "(extrapolated); a curve that does not fade has none", width=METRIC_WIDTH)
    cells[2].metric(f"Spectral radius ρ({page.math('W')})", f"{page.rho:.3f}",
                    help=f"the largest |eigenvalue|: what {page.math('W')} does per step in the long run",
                    width=METRIC_WIDTH)
    cells[3].metric("Bound per step γ·σ_max", f"{page.gamma * page.singular[0]:.3f}",
                    help=f"γ = sup |f′| = {page.gamma:g} for {config.activation}; eq. (11) raises this to the "
                         "power T − k", width=METRIC_WIDTH)


def main_curve(page: Page) -> np.ndarray:
    """The metrics and the curve ||dh_T/dh_k|| with its bound; returns the bound (W,)."""
    config, params, summary, norm = page.config, page.params, page.summary, page.plan.norm
    W = page.norms.shape[0]
    bound = fv.bound_for_norm(jacobian_bound(params, config.activation, config.T)[-W:], norm, H=config.H)
    metrics(page)
    powers = fv.matrix_power_norms(params.W_hh, W, norm) if page.plan.powers else None
    st.plotly_chart(fv.curve_figure(page.norms, bound, nt=page.nt, ord=norm, axis=page.axis,
                                    horizon=summary.horizon, horizon_text=summary.horizon_text,
                                    factor_label=summary.label, matrix_powers=powers, first_step=page.first_step,
                                    presentation=config.presentation),
                    key="v_curve", config={"toImageButtonOptions": {"filename": "dhT_dhk"}})
    st.caption(
        f"**What to look for:** read the blue curve from the right (k = T, where it is ‖I‖) to the left, "
        f"going back in time. On this log axis its slope is the per-step factor ({summary.label}): a "
        f"straight line dropping to the left is a gradient vanishing geometrically, one climbing to the "
        f"left is exploding. The dashed line is the worst case of eq. (11)"
        f"{' (times √H for the Frobenius norm)' if norm == 'fro' else ''}: the curve never crosses above it. "
        f"The memory horizon ({summary.horizon_text}) is how far back a state still moves {page.math('hT')} by "
        "at least 1 %" + (" (the ★)." if summary.horizon is not None else "."))
    window_note(W, config.T, "the main curve")
    if st.button("Where eq. (8) comes from: the Derivation, stage 5 (the factor)", icon=":material/functions:",
                 key="v_to_derivation", type="tertiary"):
        state.open_derivation("factor", config.T - 1)
    if powers is not None:
        power = page.nt.jacobian_power("T-k")
        hT, hk = page.nt.at(page.nt.h, "T"), page.nt.at(page.nt.h, "k")
        st.success(f"With the identity activation f′ = 1, so every step's factor is {page.math('Wstep')} itself and "
                   rf"$\partial {hT} / \partial {hk} = {power}$ exactly: the curve *is* the norms of the "
                   "matrix powers (open circles); "
                   f"largest relative difference here {fv.relative_gap(page.norms, powers):.1e}.",
                   icon=":material/check_circle:")
    show_notes(fv.log_notes(page.norms, page.math("jac")) + fv.log_notes(bound, "the bound")[:1])
    return bound


def sweep_curves(page: Page) -> tuple[list, list]:
    """(name, curve) of every planned radius and activation (cached on the config); curves the
    guard stopped are left out."""
    radius_configs, act_configs = vn.sweep_configs(page.config.replace(v_radii=page.plan.radii, v_acts=page.plan.acts))
    window = page.plan.sweep_window
    drawn: tuple[list, list] = ([], [])
    with st.spinner("Sweeping the spectral radius and the activation…"):
        for out, configs in zip(drawn, (radius_configs, act_configs)):
            for name, cfg in configs:
                curve = guarded_curve(page.guard, f"the {name} curve", cfg, page.plan.norm, window, keep_tail=False)
                if curve is not None:
                    out.append((name, curve))
    return drawn


def sweep_chart(page: Page, curves: list, summaries: list, *, title: str, highlight: str, key: str) -> None:
    window = page.plan.sweep_window
    st.plotly_chart(fv.sweep_figure(curves, nt=page.nt, ord=page.plan.norm, axis=page.axis,
                                    horizons=[s.horizon for s in summaries],
                                    horizon_texts=[s.horizon_text for s in summaries], title=title,
                                    highlight=highlight, first_step=page.config.T - window + 1,
                                    presentation=page.config.presentation),
                    key=key, config={"toImageButtonOptions": {"filename": key.removeprefix("v_")}})


def dropped_note(page: Page) -> None:
    """Which chosen curves did not fit the page's budget."""
    config, plan = page.config, page.plan
    left_out = [f"ρ = {r:g}" for r in config.v_radii if r not in plan.radii] + \
               [f"f = {a}" for a in config.v_acts if a not in plan.acts]
    if left_out:
        st.info(f"At T = {config.T}, H = {config.H} the {len(config.v_radii) + len(config.v_acts)} chosen curves "
                f"would take too long to compute even over their last {min(vn.MIN_WINDOW, config.T)} steps: the "
                f"page draws {len(plan.radii) + len(plan.acts)} of them and leaves out {', '.join(left_out)}. "
                "Pick fewer radii or activations to see those.", icon=":material/speed:")


def sweeps_section(page: Page, radius_curves: list, act_curves: list) -> None:
    config, window = page.config, page.plan.sweep_window
    radius_summaries = [vn.summarise(c) for _, c in radius_curves]
    act_summaries = [vn.summarise(c) for _, c in act_curves]
    dropped_note(page)
    left, right = st.columns(2)
    with left:
        radii_widget(config)
        if radius_curves:
            sweep_chart(page, radius_curves, radius_summaries, title=f"f = {config.activation}, ρ varied",
                        highlight=f"ρ = {config.rho:g}", key="v_sweep_rho")
        st.caption("**What to look for:** the same weights rescaled to each radius. Below ρ ≈ 1 the lines fall, "
                   "above it they can rise, and the memory horizon (★ where it is on the curve, else extrapolated "
                   "in the legend) moves further back as ρ grows. The thick line is the sidebar's ρ (if it is "
                   "among the radii).")
    with right:
        state.view_widget("v_acts", format_func=ACTIVATION_LABELS.get)
        if act_curves:
            sweep_chart(page, act_curves, act_summaries, title=f"ρ = {config.rho:g}, f varied",
                        highlight=f"f = {config.activation}", key="v_sweep_act")
            st.caption(f"**What to look for:** the same {page.math('W')} and inputs with a different f. The "
                       "identity follows the matrix powers; tanh and sigmoid shrink each step by f′ ≤ γ (the "
                       "sigmoid's γ is ¼, so it vanishes fastest); ReLU passes the gradient unchanged through "
                       "active units and cuts it at dead ones.")
        elif not config.v_acts:
            st.info("Pick one or more activations to compare.", icon=":material/info:")
    window_note(window, config.T, "every sweep curve")
    sweep_rows = list(zip(radius_curves + act_curves, radius_summaries + act_summaries))
    st.dataframe(
        {"setting": [name for (name, _), _ in sweep_rows],
         "per-step factor": [s.factor for _, s in sweep_rows],
         "trend": [s.label for _, s in sweep_rows],
         "memory horizon": [s.horizon_text for _, s in sweep_rows]},
        hide_index=True, width="stretch",
        column_config={"per-step factor": st.column_config.NumberColumn(format="%.3f")})
    st.caption("**How the horizon moves across the sweep:** one row per curve above, with its fitted factor.")
    show_notes([n for name, c in radius_curves + act_curves for n in fv.log_notes(c, f"the {name} curve")])


def spectrum_section(page: Page) -> None:
    config, gamma, Wm = page.config, page.gamma, page.math("W")
    st.plotly_chart(fv.spectrum_figure(page.eigenvalues, page.singular, gamma=gamma, rho=config.rho, nt=page.nt,
                                       presentation=config.presentation),
                    key="v_spectrum", config={"toImageButtonOptions": {"filename": "spectrum"}})
    gamma_note = ("For tanh, ReLU and identity γ = 1, so the 1/γ circle is the unit circle."
                  if np.isclose(gamma, 1.0) else
                  f"For the sigmoid γ = {gamma:g}: σ_max must pass 1/γ = {1 / gamma:g} before the bound even "
                  "allows growth.")
    st.caption(f"**What to look for:** the sidebar's ρ puts the largest eigenvalue on the dotted circle. "
               f"Eigenvalues inside the unit circle make long products of {Wm} shrink; outside, grow. The bound of "
               f"eq. (11) uses the largest singular value instead (σ_max ≥ ρ), so it guarantees vanishing only when "
               f"σ_max < 1/γ (dashed line, right). {gamma_note}")
    if config.edits and not np.isclose(page.rho, config.rho):
        st.info(f"Hand-edited weights move the spectral radius to {page.rho:.3f} (the sidebar's ρ = "
                f"{config.rho:g} was applied before the edits).", icon=":material/info:")


def pairs_section(page: Page, dl_dh: np.ndarray | None) -> None:
    config, plan, T, H = page.config, page.plan, page.config.T, page.config.H
    left, right = st.columns(2)
    with left:
        if not page.guard.allows("the map of all pairs"):
            return
        with st.spinner("Computing all pairs…"):
            P = pairwise(page.model, plan.pair_norm, plan.pair_window)
        st.plotly_chart(fv.pairwise_figure(P, nt=page.nt, ord=plan.pair_norm, first_step=T - plan.pair_window + 1,
                                           presentation=config.presentation),
                        key="v_pairwise", config={"toImageButtonOptions": {"filename": "pairwise"}})
        st.caption(f"**What to look for:** row t, column k is {page.math('jac_tk')} in log colour. The diagonal is "
                   "the identity; the colour changing away from it is the gradient vanishing (darker) or exploding "
                   "(brighter) over the distance t − k. The bottom row is the curve above.")
        if plan.pair_norm != plan.norm:
            st.info(f"The map uses the Frobenius norm: spectral norms of all {T * (T + 1) // 2} pairs at H = {H} "
                    "would take too long to compute.", icon=":material/speed:")
        window_note(plan.pair_window, T, "the map of all pairs")
        show_notes(fv.log_notes(P[np.tril_indices(plan.pair_window)], page.math("jac_tk")))
    with right:
        if dl_dh is None:
            return
        st.plotly_chart(fv.dl_dh_figure(dl_dh, nt=page.nt, first_step=T - dl_dh.shape[0] + 1,
                                        presentation=config.presentation),
                        key="v_dl_dh", config={"toImageButtonOptions": {"filename": "dL_dh"}})
        truncated = "" if config.truncation == "full" else f", with the sidebar's {config.truncation} truncation"
        st.caption(f"**What to look for:** {page.math('dLdh')} from BPTT (eq. (7){truncated}): how much gradient "
                   "each state receives from all later losses. Each step gets its own loss's share plus what flows "
                   "back from the future; when the factors vanish, early steps receive little more than their own.")
        window_note(dl_dh.shape[0], T, f"the gradient with {config.truncation.replace('_', '-')} truncation")
        show_notes(fv.log_notes(fv.step_norms(dl_dh), page.math("dLdh")))


def steps_section(page: Page) -> None:
    config, plan, T, atm, Wm = page.config, page.plan, page.config.T, page.math("a_t"), page.math("W")
    if not page.guard.allows("the per-step split"):
        return
    with st.spinner("Splitting each step's factor…"):
        stats = factor_stats(page.model, plan.stats_window)
    st.info(fv.fade_verdict(stats, page.norms, activation=config.activation, factor=page.summary.factor,
                            rho=page.rho), icon=":material/lightbulb:")
    st.plotly_chart(fv.fade_figure(stats, activation=config.activation, rho=page.rho, nt=page.nt,
                                   first_step=T - plan.stats_window + 1, presentation=config.presentation),
                    key="v_fade", config={"toImageButtonOptions": {"filename": "step_factors"}})
    st.caption(f"**What to look for:** each step multiplies by {page.math('factor')} (eq. (8)). Its norm (black) is "
               f"at most ‖{Wm}‖₂ · max|f′({atm})|, the most one step can do; over many steps {Wm} alone scales by "
               f"its spectral radius ρ (dotted), which can be below 1 even when ‖{Wm}‖₂ is above. Where the black "
               "line drops below the blue ones the activation takes the gradient away: saturated tanh/sigmoid "
               "units or dead ReLUs (the bars).")
    window_note(plan.stats_window, T, "the per-step split")
    if stats.overflow_step is not None:
        st.warning(f"The forward pass overflowed at step {T - plan.stats_window + stats.overflow_step}: from there "
                   f"on {atm} is not finite and the per-step numbers are unknown.", icon=":material/warning:")
    st.plotly_chart(fv.derivative_heatmap(derivatives(page.model), gamma=page.gamma, nt=page.nt,
                                          presentation=config.presentation),
                    key="v_df", config={"toImageButtonOptions": {"filename": "fprime"}})
    st.caption(f"**What to look for:** f′({atm}) of every hidden unit over time, from 0 (dark: the unit passes no "
               f"gradient back) to γ = {page.gamma:g} (bright). A dark column is a step where the gradient gets "
               "stuck; a dark row is a unit that is always saturated or dead.")


SECTION_HEADERS = {"sweeps": "Sweeps: the same seed, one factor changed", "spectrum": "The spectrum of ${W}$",
                   "pairs": "All pairs, and the gradient each step receives", "steps": "Why it fades, step by step"}


def sections(page: Page, dl_dh: np.ndarray | None, radius_curves: list, act_curves: list) -> None:
    """The chosen section below the main curve, or all of them: a slider move redraws only
    what is on screen (every chart costs the browser ~30 ms to redraw)."""
    chosen = state.view_widget("v_section", widget="segmented_control", format_func=SECTION_LABELS.get,
                               label_visibility="collapsed")
    draw = {"sweeps": lambda: sweeps_section(page, radius_curves, act_curves),
            "spectrum": lambda: spectrum_section(page), "pairs": lambda: pairs_section(page, dl_dh),
            "steps": lambda: steps_section(page)}
    for name in (draw if chosen == "all" else (chosen,)):
        st.header(SECTION_HEADERS[name].format(W=page.nt.param("W_hh")))
        draw[name]()


def export(page: Page, bound: np.ndarray, dl_dh: np.ndarray | None, radius_curves: list, act_curves: list) -> None:
    """The CSV of what this run computed, one row per step (empty where a window does not reach)."""
    T = page.config.T

    def padded(values: np.ndarray) -> np.ndarray:
        return np.concatenate([np.full(T - values.shape[0], np.nan), values])

    frame = fv.curves_frame(padded(page.norms), padded(bound),
                            padded(fv.step_norms(dl_dh)) if dl_dh is not None else np.full(T, np.nan),
                            [(name, padded(c)) for name, c in radius_curves + act_curves])
    st.download_button("Download the curves (CSV)", frame.to_csv(index=False).encode(),
                       file_name="vanishing_curves.csv", mime="text/csv", icon=":material/download:",
                       help="the curves of this page as drawn, one row per step (empty where a window does not "
                            "reach; the sweeps when their section is shown); each chart exports a PNG from its "
                            "toolbar (camera icon)")


def main() -> None:
    guard = Guard(vn.GUARD_SECONDS)
    config = state.config()
    introduction(NOTATIONS[config.notation])
    page = prepare(config, guard)
    bound = main_curve(page)
    dl_dh_steps = dl_dh(config, page.plan.dl_dh_window) if guard.allows("the gradient each step receives") else None
    radius_curves, act_curves = sweep_curves(page) if page.plan.sweep_window else ([], [])
    sections(page, dl_dh_steps, radius_curves, act_curves)
    skipped_note(guard)
    export(page, bound, dl_dh_steps, radius_curves, act_curves)


main()
