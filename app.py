"""BPTT Explorer: entry point. Page navigation, the shared sidebar, URL <-> config sync.

Run: streamlit run app.py
"""

import streamlit as st

from ui import sidebar, state
from ui.browser import FIT_EQUATIONS_HTML
from ui.lessons import bar as lesson_bar
from ui.runtime import limit_blas_threads

# The one table of pages: (file, title, icon). The folder is views/, not pages/: Streamlit's
# legacy multipage mode would run a pages/ file alone, without this script, when a shared link
# to a page is the first visit of a fresh server.
PAGES = (
    ("views/home.py", "Home", ":material/home:"),
    ("views/lessons.py", "Lessons", ":material/school:"),
    ("views/graph.py", "Unrolled graph", ":material/account_tree:"),
    ("views/vanishing.py", "Vanishing & exploding", ":material/show_chart:"),
    ("views/model.py", "Model & weights", ":material/grid_on:"),
    ("views/derivation.py", "Derivation", ":material/functions:"),
    ("views/training.py", "Training & truncation", ":material/model_training:"),
)

PRESENTATION_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stMarkdownContainer"] p, [data-testid="stMarkdownContainer"] li { font-size: 1.1rem; }
/* a metric's value and label are markdown too: keep the value large, let a long label wrap */
[data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p { font-size: 2.2rem; line-height: 1.25; }
[data-testid="stMetricLabel"] .stMarkdownEllipsis, [data-testid="stMetricLabel"] p {
  white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: normal; font-size: 0.9rem; }
[data-testid="stCaptionContainer"] p { font-size: 0.95rem; }
.katex { font-size: 1.3em; }
section[data-testid="stSidebar"] { width: 400px !important; min-width: 400px !important; }
"""


def main() -> None:
    state.remember_link()
    st.set_page_config(page_title="BPTT Explorer", page_icon=":material/timeline:", layout="wide")
    limit_blas_threads()
    config = state.start_run()
    pages = {file: st.Page(file, title=title, icon=icon, default=(file == "views/home.py"))
             for file, title, icon in PAGES}
    page = st.navigation(list(pages.values()))
    # a lesson step asked for by a button or a link: its settings and its page (may switch pages)
    lesson_bar.enter(next(file for file, p in pages.items() if p.url_path == page.url_path))
    config = state.config()
    if config.presentation:
        st.html(PRESENTATION_CSS)
    st.html(FIT_EQUATIONS_HTML, unsafe_allow_javascript=True)   # every page: equations fit their column
    sidebar.render(config)
    state.sync_url()
    lesson_bar.render()                                         # above the page, while a lesson runs
    page.run()


main()
