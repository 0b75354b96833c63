"""Benchmark worker for the PyTorch reference (CPU, float64). Started by bench/engine.py.

Usage: _torch_side.py THREADS, THREADS = 1 (torch.set_num_threads(1), fastest here) or
"default". Variants, each written as a fair PyTorch user would:
- "loop":  the step loop under autograd; input projection and output layer as one matmul over
           all steps, addmm per step, cross-entropy summed over time and averaged over the batch.
- "fused": torch.nn.RNN(nonlinearity="tanh") with our weights (bias_hh = 0) + nn.Linear.
- "cumprod": ||dh_T/dh_k|| for all k: forward without autograd, then the cumulative product
           J <- (J diag(f'(a_{k+1}))) W_hh into one (T, H, H) stack, and
           torch.linalg.matrix_norm over the whole stack (one batched SVD for ord=2).
"""
from __future__ import annotations

import sys

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


PREPARE = {"loop": prepare_loop, "fused": prepare_fused, "cumprod": prepare_cumprod}

if __name__ == "__main__":
    if sys.argv[1] == "1":
        torch.set_num_threads(1)
    serve(lambda case, variant: PREPARE[variant](case))
