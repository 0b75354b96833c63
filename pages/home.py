"""Home: what BPTT is, what each page shows, lecture presets."""
import streamlit as st

st.title("BPTT Explorer")
