"""What app.py installs in every page's browser, once per page: the script that fits wide
display equations to their column (every page writes equations, not only the Derivation)."""

# The pages' HTML that fits every display equation to its column: one wider than its block is
# zoomed down to fit (CSS zoom shrinks its height too), never below MIN_ZOOM, where it scrolls
# sideways instead. Installed once per browser page; re-fits after every redraw and resize.
MIN_ZOOM = 0.45
FIT_EQUATIONS_HTML = """<style>
.katex-display { overflow-x: auto; overflow-y: hidden; padding: 0.2rem 0 0.4rem 0; }
</style>
<script>
(() => {
  if (window.__bpttFitEquations) return;
  window.__bpttFitEquations = true;
  const fit = () => {
    for (const box of document.querySelectorAll('.katex-display')) {
      const tex = box.querySelector(':scope > .katex');
      if (!tex) continue;
      // st.latex centres a content-sized box: the column is the enclosing markdown element
      const room = (box.closest('.stMarkdown') || box.parentElement).clientWidth;
      tex.style.zoom = '';
      const natural = box.scrollWidth;
      if (natural > room) tex.style.zoom = Math.max((room - 4) / natural, %(min)s).toFixed(3);
    }
  };
  let queued = false;
  const soon = () => { if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; fit(); }); } };
  new MutationObserver(soon).observe(document.body, {childList: true, subtree: true});
  window.addEventListener('resize', soon);
  soon();
})();
</script>""" % {"min": MIN_ZOOM}
