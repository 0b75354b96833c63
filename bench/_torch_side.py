"""Benchmark worker for the PyTorch reference (CPU, float64). Started by bench/engine.py.

Usage: _torch_side.py THREADS, THREADS = 1 (torch.set_num_threads(1), fastest here) or
"default". Variants, each written as a fair PyTorch user would:
- "loop":  the step loop under autograd; input projection and output layer as one matmul over
           all steps, addmm per step, cross-entropy summed over time and averaged over the batch.
- "fused": torch.nn.RNN(nonlinearity="tanh") with our weights (bias_hh = 0) + nn.Linear.
- "lstm_loop", "gru_loop": the gated cells' step loops under autograd, written from the equations
           of ../shared/DESIGN.md "Gated cells" (for the GRU the reset gate acts on h_{t-1}
           before the product with W_hh): the G gate blocks stacked into one (G H, D) and one
           (G H, H) weight, so the input part is one matmul over all steps and each step's
           gate products are one addmm (the GRU: one for r and z, one for the candidate).
- "lstm_fused", "gru_fused": torch.nn.LSTM / torch.nn.GRU with our weights (bias_hh = 0) +
           nn.Linear. nn.GRU is the reset-after form of cuDNN, h~ = tanh(W_xh x + b_h +
           r * (W_hh h_{t-1})): a different function with the same matrix products, so it is
           timed but not compared with our numbers (the loop is).
- "cumprod": ||dh_T/dh_k|| for all k: forward without autograd, then the cumulative product
           J <- (J diag(f'(a_{k+1}))) W_hh into one (T, H, H) stack, and
           torch.linalg.matrix_norm over the whole stack (one batched SVD for ord=2).
"""
from __future__ import annotations

import sys
import time

import torch
import torch.nn.functional as F

from _engine_cases import model_inputs
from _engine_worker import serve

PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def _tensors(case: dict) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(a) for name, a in model_inputs(case).items()}


def _summed_ce(logits: torch.Tensor, ys: torch.Tensor, B: int) -> torch.Tensor:
    """sum over time of the cross-entropy, averaged over the batch (rnn_core's 'sum')."""
    return F.cross_entropy(logits, ys.reshape(-1), reduction="sum") / B


def prepare_loop(case: dict):
    t = _tensors(case)
    xs, ys = t["xs"], t["ys"]
    T, B, D = xs.shape
    W_xh, W_hh, b_h, W_hy, b_y = params = [t[n].clone().requires_grad_() for n in PARAM_NAMES]

    def run():
        for p in params:
            p.grad = None
        H = W_hh.shape[0]
        x_proj = torch.addmm(b_h, xs.reshape(T * B, D), W_xh.t()).reshape(T, B, H)
        h = xs.new_zeros(B, H)
        hs = []
        for x_t in x_proj.unbind(0):    # unbind: indexing x_proj[t] would backprop T full-size zeros
            h = torch.tanh(torch.addmm(x_t, h, W_hh.t()))
            hs.append(h)
        logits = torch.addmm(b_y, torch.stack(hs).reshape(T * B, H), W_hy.t())
        loss = _summed_ce(logits, ys, B)
        loss.backward()
        return loss

    def collect(loss):
        return {"loss": loss.detach().numpy(), **{n: p.grad.numpy() for n, p in zip(PARAM_NAMES, params)}}

    return run, collect


def prepare_fused(case: dict):
    t = _tensors(case)
    xs, ys = t["xs"], t["ys"]
    T, B, D = xs.shape
    H, O = t["W_hh"].shape[0], t["W_hy"].shape[0]
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)
    head = torch.nn.Linear(H, O, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(t["W_xh"])
        rnn.weight_hh_l0.copy_(t["W_hh"])
        rnn.bias_ih_l0.copy_(t["b_h"])
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(t["W_hy"])
        head.bias.copy_(t["b_y"])

    def run():
        rnn.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        hs, _ = rnn(xs)
        loss = _summed_ce(head(hs.reshape(T * B, H)), ys, B)
        loss.backward()
        return loss

    def collect(loss):
        grads = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, head.weight, head.bias)
        return {"loss": loss.detach().numpy(), **{n: p.grad.numpy() for n, p in zip(PARAM_NAMES, grads)}}

    return run, collect


def prepare_cumprod(case: dict):
    t = _tensors(case)
    xs, W_xh, W_hh, b_h = t["xs"], t["W_xh"], t["W_hh"], t["b_h"]
    T, H = xs.shape[0], W_hh.shape[0]
    ord = case["ord"]

    @torch.no_grad()
    def run():
        x_proj = torch.addmm(b_h, xs, W_xh.t())
        hs = torch.empty(T, H, dtype=torch.float64)
        h = xs.new_zeros(H)
        for step in range(T):
            h = hs[step] = torch.tanh(torch.addmv(x_proj[step], W_hh, h))
        fprime = 1 - hs * hs                                  # tanh'(a_t) from h_t
        J = torch.empty(T, H, H, dtype=torch.float64)
        J[T - 1] = torch.eye(H, dtype=torch.float64)
        for k in range(T - 2, -1, -1):                        # J[k] = dh_T/dh_{k+1}
            torch.matmul(J[k + 1] * fprime[k + 1], W_hh, out=J[k])
        return torch.linalg.matrix_norm(J, ord=ord)

    return run, lambda norms: {"norms": norms.numpy()}


# Gate blocks in the order each stacked weight holds them: ours (DESIGN.md's names) in the
# loop, and PyTorch's own (nn.LSTM: i, f, g, o; nn.GRU: r, z, n) in the fused modules.
LOOP_GATES = {"lstm": ("i", "f", "o", "c"), "gru": ("r", "z", "h")}
FUSED_GATES = {"lstm": ("i", "f", "c", "o"), "gru": ("r", "z", "h")}


def _names(gate: str) -> tuple[str, str, str]:
    """DESIGN.md's names of a gate's input weight, recurrent weight and bias: "i" -> W_xi, W_hi, b_i."""
    return f"W_x{gate}", f"W_h{gate}", f"b_{gate}"


def _stacked(t: dict[str, torch.Tensor], gates: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
    """(W_x (G H, D), W_h (G H, H), b (G H,)) from the per-gate blocks, in the order of gates."""
    return tuple(torch.cat([t[_names(g)[j]] for g in gates]) for j in range(3))


def _unstacked(grads: tuple[torch.Tensor, ...], gates: tuple[str, ...]) -> dict:
    """The gradients of the stacked weights split back into DESIGN.md's names."""
    out = {}
    for j, grad in enumerate(grads):
        for g, block in zip(gates, grad.chunk(len(gates))):
            out[_names(g)[j]] = block.numpy()
    return out


def prepare_gated_loop(case: dict):
    cell = case["kind"]
    t = _tensors(case)
    xs, ys = t["xs"], t["ys"]
    T, B, D = xs.shape
    O, H = t["W_hy"].shape
    gates = LOOP_GATES[cell]
    W_x, W_h, b = (a.clone().requires_grad_() for a in _stacked(t, gates))
    W_hy, b_y = (t[n].clone().requires_grad_() for n in ("W_hy", "b_y"))
    h0 = t["h0"].clone().requires_grad_()
    c0 = t["c0"].clone().requires_grad_() if cell == "lstm" else None
    leaves = [p for p in (W_x, W_h, b, W_hy, b_y, h0, c0) if p is not None]

    def lstm_steps(x_proj):
        h, c, hs = h0, c0, []
        W_h_t = W_h.t()
        for x_t in x_proj.unbind(0):
            gates_t = torch.addmm(x_t, h, W_h_t)              # all four gate products at once
            ifo = torch.sigmoid(gates_t[:, :3 * H])
            i, f, o = ifo.chunk(3, 1)                         # i_t, f_t, G_t (output gate)
            c = torch.addcmul(f * c, i, torch.tanh(gates_t[:, 3 * H:]))
            h = o * torch.tanh(c)
            hs.append(h)
        return hs

    def gru_steps(x_proj):
        h, hs = h0, []
        W_rz_t, W_hh_t = W_h[:2 * H].t(), W_h[2 * H:].t()
        for x_t in x_proj.unbind(0):
            rz = torch.sigmoid(torch.addmm(x_t[:, :2 * H], h, W_rz_t))
            r, z = rz.chunk(2, 1)
            cand = torch.tanh(torch.addmm(x_t[:, 2 * H:], r * h, W_hh_t))   # reset before W_hh
            h = torch.lerp(cand, h, z)                        # z * h_{t-1} + (1 - z) * h~_t
            hs.append(h)
        return hs

    steps = lstm_steps if cell == "lstm" else gru_steps

    def run():
        for p in leaves:
            p.grad = None
        x_proj = torch.addmm(b, xs.reshape(T * B, D), W_x.t()).reshape(T, B, -1)
        hs = steps(x_proj)
        logits = torch.addmm(b_y, torch.stack(hs).reshape(T * B, H), W_hy.t())
        loss = _summed_ce(logits, ys, B)
        loss.backward()
        return loss

    def collect(loss):
        out = {"loss": loss.detach().numpy(), **_unstacked((W_x.grad, W_h.grad, b.grad), gates),
               "W_hy": W_hy.grad.numpy(), "b_y": b_y.grad.numpy(), "dL_dh0": h0.grad.numpy()}
        if c0 is not None:
            out["dL_dc0"] = c0.grad.numpy()
        return out

    return run, collect


def prepare_gated_fused(case: dict):
    cell = case["kind"]
    t = _tensors(case)
    xs, ys = t["xs"], t["ys"]
    T, B, D = xs.shape
    O, H = t["W_hy"].shape
    gates = FUSED_GATES[cell]
    module = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H, dtype=torch.float64)
    head = torch.nn.Linear(H, O, dtype=torch.float64)
    W_x, W_h, b = _stacked(t, gates)
    with torch.no_grad():
        module.weight_ih_l0.copy_(W_x)
        module.weight_hh_l0.copy_(W_h)
        module.bias_ih_l0.copy_(b)
        module.bias_hh_l0.zero_()
        head.weight.copy_(t["W_hy"])
        head.bias.copy_(t["b_y"])
    h0 = t["h0"][None].clone().requires_grad_()
    c0 = t["c0"][None].clone().requires_grad_() if cell == "lstm" else None

    def run():
        module.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        h0.grad = None
        if c0 is not None:
            c0.grad = None
        hs, _ = module(xs, (h0, c0) if c0 is not None else h0)
        loss = _summed_ce(head(hs.reshape(T * B, H)), ys, B)
        loss.backward()
        return loss

    def collect(loss):
        grads = (module.weight_ih_l0.grad, module.weight_hh_l0.grad, module.bias_ih_l0.grad)
        out = {"loss": loss.detach().numpy(), **_unstacked(grads, gates), "W_hy": head.weight.grad.numpy(),
               "b_y": head.bias.grad.numpy(), "dL_dh0": h0.grad[0].numpy()}
        if c0 is not None:
            out["dL_dc0"] = c0.grad[0].numpy()
        return out

    return run, collect


PREPARE = {"loop": prepare_loop, "fused": prepare_fused, "cumprod": prepare_cumprod,
           "lstm_loop": prepare_gated_loop, "gru_loop": prepare_gated_loop,
           "lstm_fused": prepare_gated_fused, "gru_fused": prepare_gated_fused}

def peak(req: dict) -> dict:
    """The float64 matmul rate of one n x n torch.mm (PyTorch's BLAS), best of `repeats`."""
    n = req["n"]
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, dtype=torch.float64, generator=gen) for _ in range(2))
    out = torch.empty(n, n, dtype=torch.float64)
    torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(req["repeats"]):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return {"gflops": 2 * n**3 / best / 1e9}


if __name__ == "__main__":
    if sys.argv[1] == "1":
        torch.set_num_threads(1)
    serve(lambda case, variant: PREPARE[variant](case), {"peak": peak})
