"""rnn_core: recurrent networks and backpropagation through time in pure NumPy (float64).

Three cells behind one seam (rnn_core.cells): the vanilla RNN (Params), the LSTM (LSTMParams)
and the GRU (GRUParams). Every entry point takes any of them and finds the cell from the type:
forward, bptt (with every truncation), the Jacobians, contributions, gradcheck, training.

Convention: column vectors, steps t = 1..T; array index i holds step t = i + 1.
Shape legend: T steps, B sequences in a batch, D inputs, H hidden units, O outputs, S the state
size (H, or 2H for the LSTM's [h; c]).
A single sequence is xs (T, D); a batch is xs (T, B, D); results keep the caller's layout.

The vanilla RNN, numbered as the app shows it:
    (1)  a_t = W_xh x_t + W_hh h_{t-1} + b_h
    (2)  h_t = f(a_t)
    (3)  o_t = W_hy h_t + b_y                                   (every cell's output layer)
    (4)  L_t = loss(o_t, y_t)
    (5)  L   = sum_t w_t L_t,  w_t = m_t ('sum') or m_t / sum(m) ('mean')
    (6)  dL/do_t = w_t dL_t/do_t
    (7)  dL/dh_t = W_hy^T dL/do_t + W_hh^T (f'(a_{t+1}) * dL/dh_{t+1})      (direct + indirect)
    (8)  dh_t/dh_{t-1} = diag(f'(a_t)) W_hh,   dh_T/dh_k = prod_{i=k+1}^{T} dh_i/dh_{i-1}
    (9)  dL/dW_hh = sum_t sum_{k<=t} (dh_t/dh_k)^T dL_t/dh_t ... the double sum (contributions)
    (10) delta_t = f'(a_t) * dL/dh_t;  dL/dW_hh = sum_t delta_t h_{t-1}^T, ... (bptt)
    (11) ||dh_T/dh_k|| <= (gamma sigma_max(W_hh))^(T-k)
    (12) theta <- theta - eta g, with g optionally clipped (training)

The LSTM (cells/lstm.py; sigma the logistic sigmoid, * elementwise), state s_t = [h_t; c_t]:
    (L1) i_t  = sigma(W_xi x_t + W_hi h_{t-1} + b_i)        input gate
    (L2) f_t  = sigma(W_xf x_t + W_hf h_{t-1} + b_f)        forget gate
    (L3) G_t  = sigma(W_xo x_t + W_ho h_{t-1} + b_o)        output gate
    (L4) c~_t = tanh(W_xc x_t + W_hc h_{t-1} + b_c)         candidate
    (L5) c_t  = f_t * c_{t-1} + i_t * c~_t                  memory cell
    (L6) h_t  = G_t * tanh(c_t)
The GRU (cells/gru.py; the reset gate acts before W_hh, as in Dive into Deep Learning), s_t = h_t:
    (G1) r_t  = sigma(W_xr x_t + W_hr h_{t-1} + b_r)        reset gate
    (G2) z_t  = sigma(W_xz x_t + W_hz h_{t-1} + b_z)        update gate
    (G3) h~_t = tanh(W_xh x_t + W_hh (r_t * h_{t-1}) + b_h)
    (G4) h_t  = z_t * h_{t-1} + (1 - z_t) * h~_t
Along the LSTM's memory path c_k -> c_T the Jacobian is diag(f_{k+1} * ... * f_T); along the
GRU's update path, diag(z_{k+1} * ... * z_T): gates near 1 keep the gradient alive where the
vanilla product (8) fades (gate_path_to_last puts that product next to ||ds_T/ds_k||).

Example:
    >>> import numpy as np, rnn_core as rc
    >>> p = rc.init_params(D=2, H=8, O=1, cell="lstm", seed=0)          # forget-gate bias 1
    >>> xs, ys = np.ones((30, 2)), np.zeros((30, 1))
    >>> res = rc.bptt(p, xs, ys, loss="mse", truncation=("k_step", 10))
    >>> res.grads.W_hf.shape, res.dL_dc.shape, rc.jacobians_to_last(p, xs).shape
    ((8, 8), (30, 8), (30, 16, 16))
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
from .jacobians import (GatePath, StepFactorStats, gate_path_to_last, jacobian_between, jacobian_norms_to_last,
                        jacobians_to_last, matrix_norm, pairwise_jacobian_norms, step_factor_stats,
                        step_jacobians)
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
    "GatePath", "StepFactorStats", "gate_path_to_last", "jacobian_between", "jacobian_norms_to_last",
    "jacobians_to_last", "matrix_norm", "pairwise_jacobian_norms", "step_factor_stats", "step_jacobians", "classify_factor",
    "fit_decay_factor", "jacobian_bound",
    "memory_horizon", "singular_values", "contribution_pieces", "contributions",
    "GradcheckReport", "GradcheckRow", "gradcheck", "relative_error",
]
