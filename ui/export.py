"""Static images of animated plotly figures, for slides: one frame as PNG, all frames as a GIF.

Frames are rendered by kaleido (which drives a Chrome/Chromium it finds on the machine) and
the GIF is assembled with Pillow. kaleido is optional: `kaleido_problem()` says in one
sentence why export cannot work here (not installed, or no browser), so a page can disable
its buttons with that reason instead of failing.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import copy
import io

import plotly.graph_objects as go

MAX_GIF_FRAMES = 60          # longer animations keep every k-th frame (and the last)
IMAGE_WIDTH, IMAGE_HEIGHT = 1200, 880


def kaleido_problem() -> str | None:
    """None if images can be rendered here, else the reason in one sentence."""
    try:
        import kaleido  # noqa: F401  (only its presence is checked here)
    except ImportError:
        return "Image export needs the optional package kaleido (pip install kaleido) and Chrome or Chromium."
    try:
        from choreographer.browsers.chromium import Chromium
        found = Chromium.find_browser(skip_local=False)
    except Exception:          # an unknown kaleido version: let the rendering itself report
        return None
    if found is None:
        return "Image export needs Chrome or Chromium on the server, and none was found here."
    return None


def at_frame(fig: go.Figure, name: str) -> go.Figure:
    """A static copy of `fig` showing frame `name`: its traces and layout applied, the slider
    moved to it, and no play buttons (they mean nothing in a picture)."""
    names = [frame.name for frame in fig.frames]
    if name not in names:
        raise ValueError(f"name must be one of the figure's frames {names[:3]}..., got {name!r}")
    frame = fig.frames[names.index(name)]
    data = [copy.deepcopy(trace.to_plotly_json()) for trace in fig.data]
    for index, update in zip(frame.traces or range(len(frame.data)), frame.data):
        data[index].update({k: v for k, v in update.to_plotly_json().items() if k != "type"})
    layout = fig.layout.to_plotly_json()
    if frame.layout is not None:
        layout.update(frame.layout.to_plotly_json())
    layout["updatemenus"] = []
    if layout.get("sliders"):
        layout["sliders"] = [dict(layout["sliders"][0], active=names.index(name))]
    return go.Figure(data=data, layout=layout)


def gif_frame_names(fig: go.Figure) -> list[str]:
    """The frames a GIF shows: all, or every k-th of a long animation plus the last."""
    names = [frame.name for frame in fig.frames]
    step = -(-len(names) // MAX_GIF_FRAMES)
    picked = names[::step]
    return picked if picked[-1] == names[-1] else picked + [names[-1]]


def _render_png(figures: list[go.Figure], width: int, height: int) -> list[bytes]:
    """PNG bytes of each figure, all in one browser session (starting one costs seconds)."""
    import kaleido

    async def render() -> list[bytes]:
        async with kaleido.Kaleido(n=1) as k:
            return [await k.calc_fig(f, opts=dict(format="png", width=width, height=height)) for f in figures]

    # asyncio.run refuses to start inside a thread whose event loop is already running (a host
    # app, a notebook, Playwright's sync API in the tests): give it a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, render()).result()


def frame_png(fig: go.Figure, name: str, *, width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT) -> bytes:
    """PNG of frame `name` of an animated figure."""
    return _render_png([at_frame(fig, name)], width, height)[0]


def animation_gif(fig: go.Figure, duration_ms: int, *, width: int = IMAGE_WIDTH,
                  height: int = IMAGE_HEIGHT) -> bytes:
    """An endlessly looping GIF of the figure's frames (see gif_frame_names), duration_ms each;
    the last frame is held for two seconds."""
    from PIL import Image

    names = gif_frame_names(fig)
    pngs = _render_png([at_frame(fig, name) for name in names], width, height)
    images = [Image.open(io.BytesIO(png)).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE)
              for png in pngs]
    step = -(-len(fig.frames) // MAX_GIF_FRAMES)
    durations = [duration_ms * step] * (len(images) - 1) + [2000]
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=durations,
                   loop=0, optimize=True)
    return out.getvalue()
