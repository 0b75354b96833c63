"""Textbook notations: the names each text gives to the same five parameters and states.

Every page labels things through `symbols(notation)` so a student sees the letters of their
own text. The engine always uses column vectors and W_xh, W_hh, b_h, W_hy, b_y; `row` notation
writes x W instead of W x (its W_x is our W_xh transposed).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Notation:
    key: str
    title: str            # shown in the sidebar
    source: str           # which kind of text uses it
    row_vectors: bool     # True: h_t = f(x_t W_x + h_{t-1} W_h + b_h)
    W_xh: str
    W_hh: str
    b_h: str
    W_hy: str
    b_y: str
    a: str = "a"
    h: str = "h"
    o: str = "o"
    y_hat: str = r"\hat{y}"
    L: str = "L"
    superscript_time: bool = False   # h^{(t)} rather than h_t

    def at(self, symbol: str, t: str) -> str:
        """LaTeX of a state symbol at time t, e.g. h_{t} or h^{(t)}."""
        return f"{symbol}^{{({t})}}" if self.superscript_time else f"{symbol}_{{{t}}}"

    def param(self, name: str) -> str:
        """LaTeX symbol of a parameter given by its engine name (W_xh, W_hh, b_h, W_hy, b_y)."""
        return getattr(self, name)


NOTATIONS: dict[str, Notation] = {
    n.key: n
    for n in (
        Notation("wxh", "W_xh, W_hh, W_hy", "min-char-rnn, most lecture notes", False,
                 W_xh="W_{xh}", W_hh="W_{hh}", b_h="b_h", W_hy="W_{hy}", b_y="b_y"),
        Notation("dlbook", "U, W, V with b, c", "Goodfellow, Bengio & Courville, Deep Learning, ch. 10",
                 False, W_xh="U", W_hh="W", b_h="b", W_hy="V", b_y="c", superscript_time=True),
        Notation("d2l", "W_hx, W_hh, W_qh", "Dive into Deep Learning, sec. 9.7", False,
                 W_xh="W_{hx}", W_hh="W_{hh}", b_h="b_h", W_hy="W_{qh}", b_y="b_q"),
        Notation("vwu", "V, W, U with b_h, b_y", "lecture slides writing h_t = f(V x_t + W h_{t-1} + b_h)",
                 False, W_xh="V", W_hh="W", b_h="b_h", W_hy="U", b_y="b_y"),
        Notation("row", "W_x, W_h, W_y (row vectors)", "notes writing h_t = tanh(x_t W_x + h_{t-1} W_h + b_h)",
                 True, W_xh="W_x", W_hh="W_h", b_h="b_h", W_hy="W_y", b_y="b_y"),
    )
}
