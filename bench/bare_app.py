"""The bare Streamlit page bench/latency.py compares every page with: one sidebar slider and one
plotly chart that depends on it. Its redraw time is the floor that Streamlit, the websocket and
plotly.js set; a page of the app cannot be faster, and should not be much slower.

Run: streamlit run bench/bare_app.py
"""
import numpy as np
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="bare", layout="wide")
rho = st.sidebar.slider("Spectral radius", 0.0, 5.0, 0.9, step=0.05, key="rho")
k = np.arange(1, 13)
st.plotly_chart(go.Figure(go.Scatter(x=k, y=rho ** (12 - k), mode="lines+markers")), key="bare_chart")
