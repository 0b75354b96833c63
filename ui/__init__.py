"""Streamlit glue and figures. Arrows point one way: pages -> ui -> rnn_core."""
