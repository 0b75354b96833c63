"""Pure figure builders: numpy arrays in, plotly Figure out; no streamlit calls.

One module per page; style.py holds what they share (colours, fonts, the overflow colour).
"""
