"""Moved: the gradient on the unrolled graph is rnn_core.flow (engine maths, not a figure).

Kept only as a re-export for bench/graph.py until it imports rnn_core.flow; new code must
import rnn_core.flow.
"""
from rnn_core.flow import (EdgeFlow, Flow, NodeNorms, edge_flow, full_flow,  # noqa: F401
                           full_param_grads, node_norms, running_param_grads, single_source)
