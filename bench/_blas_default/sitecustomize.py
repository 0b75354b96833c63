"""For bench/load.py only: with this folder on PYTHONPATH the app's server keeps OpenBLAS's
default thread count, because ui/runtime.py's threadpoolctl limit becomes a no-op. It measures
what the limit buys; it is never used to serve the app."""
import threadpoolctl


def _no_limit(*args, **kwargs):
    return None


threadpoolctl.threadpool_limits = _no_limit
