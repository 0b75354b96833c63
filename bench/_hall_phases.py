"""Where a rerun's server CPU goes, from bench/_hall_server's samples (bench/hall.py --profile).

Each sampled stack ("thread; file:function; ...", root first) is charged to the first phase
that one of its frames matches, searched from the innermost frame outwards: the code that was
running decides (json.dumps called by plotly's to_json is "plotly JSON", numpy called by the
engine is "engine").
"""
from __future__ import annotations

# (phase, substrings of "file:function"); within one frame the first match wins
PHASES = (
    ("plotly: JSON serialisation", ("/plotly/io/_json.py", "/plotly/utils.py", "/_plotly_utils/utils.py")),
    ("plotly: figure objects (build, validate, copy)", ("/plotly/basedatatypes.py", "/plotly/validator",
                                                        "/_plotly_utils/", "/plotly/graph_objs/")),
    ("st.plotly_chart (its own work)", ("/streamlit/elements/plotly_chart.py",)),
    ("protobuf: message hash + serialise", ("/streamlit/runtime/forward_msg_cache.py",
                                            "runtime_util.py:serialize_forward_msg",
                                            "/google/protobuf/")),
    ("websocket send/receive (uvicorn, websockets, starlette)", ("/uvicorn/", "/websockets/", "/starlette/",
                                                                 "/asyncio/")),
    ("st caches (key hashing, lookup, copy)", ("/streamlit/runtime/caching/",)),
    ("engine (rnn_core, numpy)", ("/rnn_core/",)),
    ("app code (ui/, views/, app.py)", ("/ui/", "/views/", "/app.py:")),
    ("Streamlit runtime (script runner, session state, elements)", ("/streamlit/",)),
)
OTHER = "other"


def phase_of(stack: str) -> str:
    frames = stack.split(";")[1:]
    for frame in reversed(frames):
        for name, marks in PHASES:
            if any(mark in frame for mark in marks):
                return name
    return OTHER


def thread_of(stack: str) -> str:
    name = stack.split(";", 1)[0]
    return "script thread" if name.startswith("ScriptRunner") else "event loop" if name == "MainThread" else "other threads"


def phases(totals: dict[str, float]) -> dict[tuple[str, str], float]:
    """CPU seconds per (thread kind, phase)."""
    out: dict[tuple[str, str], float] = {}
    for stack, seconds in totals.items():
        key = (thread_of(stack), phase_of(stack))
        out[key] = out.get(key, 0.0) + seconds
    return out


def table(totals: dict[str, float], runs: int) -> str:
    """Markdown: ms of CPU per rerun by phase and thread, and their share."""
    by = phases(totals)
    total = sum(by.values())
    lines = ["| phase | thread | ms per rerun | share |", "| --- | --- | ---: | ---: |"]
    for (thread, phase), seconds in sorted(by.items(), key=lambda kv: -kv[1]):
        if seconds / total >= 0.005:
            lines.append(f"| {phase} | {thread} | {1000 * seconds / runs:.1f} | {seconds / total:.0%} |")
    lines.append(f"| all sampled | | {1000 * total / runs:.1f} | 100% |")
    return "\n".join(lines)


def top_leaves(totals: dict[str, float], thread: str, n: int = 15) -> list[tuple[str, float]]:
    """The `n` innermost Python frames (with their caller) holding most CPU on `thread` kind:
    C code (gc, hashing, protobuf) is charged to the frame that called it. Samples are taken
    when a thread lets go of the GIL, so a frame that releases it often (a syscall) is
    over-counted a little."""
    self_cpu: dict[str, float] = {}
    for stack, seconds in totals.items():
        frames = stack.split(";")
        if thread_of(stack) != thread or len(frames) < 3:
            continue
        key = f"{frames[-1]} < {frames[-2].rsplit(':', 1)[-1]}"
        self_cpu[key] = self_cpu.get(key, 0.0) + seconds
    return sorted(self_cpu.items(), key=lambda kv: -kv[1])[:n]
