"""rnn_core: a vanilla RNN and backpropagation through time in pure NumPy (float64).

Convention: column vectors, steps t = 1..T; array index i holds step t = i + 1.
Shape legend: T steps, B sequences in a batch, D inputs, H hidden units, O outputs.
A single sequence is xs (T, D); a batch is xs (T, B, D); results keep the caller's layout.

The equations, numbered as the app shows them:
    (1)  a_t = W_xh x_t + W_hh h_{t-1} + b_h
    (2)  h_t = f(a_t)
    (3)  o_t = W_hy h_t + b_y
    (4)  L_t = loss(o_t, y_t)
    (5)  L   = sum_t w_t L_t,  w_t = m_t ('sum') or m_t / sum(m) ('mean')
    (6)  dL/do_t = w_t dL_t/do_t
    (7)  dL/dh_t = W_hy^T dL/do_t + W_hh^T (f'(a_{t+1}) * dL/dh_{t+1})      (direct + indirect)
    (8)  dh_t/dh_{t-1} = diag(f'(a_t)) W_hh,   dh_T/dh_k = prod_{i=k+1}^{T} dh_i/dh_{i-1}
    (9)  dL/dW_hh = sum_t sum_{k<=t} (dh_t/dh_k)^T dL_t/dh_t ... the double sum (contributions)
    (10) delta_t = f'(a_t) * dL/dh_t;  dL/dW_hh = sum_t delta_t h_{t-1}^T, ... (bptt)
    (11) ||dh_T/dh_k|| <= (gamma sigma_max(W_hh))^(T-k)
    (12) theta <- theta - eta g, with g optionally clipped (training)
"""
from .activations import ACTIVATIONS, Activation, get_activation
from .bptt import BPTTResult, bptt
from .forward import Trace, forward
from .losses import LOSSES, Loss, get_loss
from .params import (GATED_INITIALISERS, INITIALISERS, PARAM_NAMES, CellParams, Params, init_params,
                     scale_to_spectral_radius, spectral_radius)
from .cells import CELLS, Cell, GRUParams, LSTMParams, cell_of, get_cell
from .truncation import Truncation, draw_xi, parse_truncation
from .tasks import (TASKS, Task, TaskData, decode, encode, make_task_data, make_task_sampler,
                    task_preview)
from .training import (MAX_STEPS, TrainResult, clip_by_global_norm, clip_by_value, generate, sgd_step,
                       train)
from .jacobians import (GatePath, StepFactorStats, gate_path_to_last, jacobian_between, jacobian_norms_to_last, jacobians_to_last,
                        pairwise_jacobian_norms, step_factor_stats, step_jacobians)
from .spectral import (classify_factor, fit_decay_factor, jacobian_bound, memory_horizon,
                       singular_values)
from .contributions import contribution_pieces, contributions
from .gradcheck import GradcheckReport, GradcheckRow, gradcheck, relative_error

__all__ = [
    "ACTIVATIONS", "Activation", "get_activation", "BPTTResult", "bptt", "Trace", "forward",
    "LOSSES", "Loss", "get_loss", "INITIALISERS", "GATED_INITIALISERS", "PARAM_NAMES", "Params", "init_params",
    "CellParams", "LSTMParams", "GRUParams", "CELLS", "Cell", "cell_of", "get_cell",
    "scale_to_spectral_radius", "spectral_radius", "Truncation", "draw_xi",
    "parse_truncation",
    "TASKS", "Task", "TaskData", "decode", "encode", "make_task_data", "make_task_sampler", "task_preview",
    "MAX_STEPS", "TrainResult", "clip_by_global_norm", "clip_by_value", "generate", "sgd_step", "train",
    "GatePath", "StepFactorStats", "gate_path_to_last", "jacobian_between", "jacobian_norms_to_last", "jacobians_to_last", "pairwise_jacobian_norms",
    "step_factor_stats", "step_jacobians", "classify_factor", "fit_decay_factor", "jacobian_bound",
    "memory_horizon", "singular_values", "contribution_pieces", "contributions",
    "GradcheckReport", "GradcheckRow", "gradcheck", "relative_error",
]
