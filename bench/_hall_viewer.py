"""One simulated viewer for bench/hall.py: a websocket client speaking Streamlit 1.67's protocol.

What a browser tab does, without drawing (read from streamlit/web/server/starlette/
starlette_websocket.py and runtime/app_session.py):
- open `ws://<host>/_stcore/stream` with the subprotocol "streamlit". The second subprotocol
  entry would be the XSRF token; the server only checks it (against the `_streamlit_xsrf` cookie)
  when the handshake carries an Origin header, and then only to read auth cookies, so a client
  without Origin needs neither, with `enableXsrfProtection = true` too.
- send a BackMsg `rerun_script` with a ClientState: the link's query string, the page's name
  (its URL path, "vanishing") and an empty page_script_hash; the server answers with
  ForwardMsgs (new_session, navigation, delta..., page_info_changed, script_finished).
- a widget change is another `rerun_script`: the current query string (the URL the browser
  shows, from the last page_info_changed), the page's script hash (from `navigation`), the
  changed widget's WidgetState (id from the first run's deltas: the element whose id ends with
  "-<user key>"), and the hashes of the cacheable messages it holds, so that the server sends an
  unchanged big element as a reference, as it does for a browser. Widgets absent from a
  ClientState keep their server-side values (SessionState's old state), as the app reads them.
"""
from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.asyncio.client import connect

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FINISHED_OK = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_COMPILE_ERROR = ForwardMsg.FINISHED_WITH_COMPILE_ERROR


@dataclass
class Change:
    """One widget change: when it was sent (monotonic s), the value, and when its rerun ended."""
    sent: float
    value: float
    ended: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.sent


@dataclass
class ViewerLog:
    """What one viewer saw. errors: (kind, monotonic time, detail) with kind in
    connect, disconnect, exception (an exception element drawn by the app), compile (a script
    that did not compile), state (the URL after a rerun does not hold the value sent), timeout."""
    index: int
    opened_at: float | None = None          # monotonic time its first run ended
    open_seconds: float | None = None       # connect to first run's end
    changes: list[Change] = field(default_factory=list)
    errors: list[tuple[str, float, str]] = field(default_factory=list)
    runs: int = 0                           # script runs that ended (first run included)
    bytes_in: int = 0


class Viewer:
    """A tab on `ws_url` that opens `page`?`query`, then moves widget `key` (URL name `param`,
    checked in the URL after each rerun; None: a page that keeps no URL)
    to values drawn from `values` every `think` seconds on average (uniform 0.5x-1.5x jitter),
    one change at a time: the next move waits until its own rerun has ended, as a student
    waits for the chart. Stops moving at `window.stop_at` (monotonic, set by the hall once
    every viewer has opened). A change whose rerun has not ended within `timeout` seconds is
    an error, still timed until `window.stop_at + timeout`."""

    def __init__(self, index: int, ws_url: str, page: str, query: str, *, key: str, param: str | None,
                 values: list[float], default: float, think: float, timeout: float, seed: int):
        self.log = ViewerLog(index)
        self._ws_url, self._page, self._query = ws_url, page, query
        self._key, self._param, self._values, self._default = key, param, values, default
        self._think, self._timeout = think, timeout
        self._rng = random.Random(seed)
        self._page_hash = ""
        self._widget_id: str | None = None
        self._cached: set[str] = set()      # hashes of cacheable messages this tab holds
        self._current = default

    def _error(self, kind: str, detail: str = "") -> None:
        self.log.errors.append((kind, time.monotonic(), detail[:200]))

    def _rerun_msg(self, value: float | None) -> bytes:
        state = ClientState(query_string=self._query, page_script_hash=self._page_hash, page_name=self._page)
        state.cached_message_hashes.extend(sorted(self._cached))
        if value is not None:
            widget = state.widget_states.widgets.add()
            widget.id = self._widget_id
            widget.double_array_value.data.append(value)
        return BackMsg(rerun_script=state).SerializeToString()

    def _read(self, raw: bytes) -> int | None:
        """Take one ForwardMsg in; return its script_finished status, if it is one."""
        self.log.bytes_in += len(raw)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self._cached.add(msg.hash)
        if kind == "delta":
            self._read_delta(msg.delta)
        elif kind == "page_info_changed":
            self._query = msg.page_info_changed.query_string
        elif kind == "navigation":
            self._page_hash = msg.navigation.page_script_hash or self._page_hash
        elif kind == "new_session" and msg.new_session.page_script_hash:
            self._page_hash = msg.new_session.page_script_hash
        elif kind == "session_event" and msg.session_event.WhichOneof("type") == "script_compilation_exception":
            self._error("compile", msg.session_event.script_compilation_exception.message)
        elif kind == "script_finished":
            return msg.script_finished
        return None

    def _read_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        which = element.WhichOneof("type")
        if which == "exception":
            self._error("exception", f"{element.exception.type}: {element.exception.message}")
            return
        widget_id = getattr(getattr(element, which), "id", None) if which else None
        if isinstance(widget_id, str) and widget_id.endswith("-" + self._key):
            self._widget_id = widget_id

    async def _until_run_ends(self, ws, deadline: float) -> bool:
        """Read until a script run ends successfully; False if `deadline` passed first."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                raw = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                return False
            status = self._read(raw)
            if status is None:
                continue
            if status == FINISHED_COMPILE_ERROR:
                self._error("compile", "script finished with a compile error")
            if status in (FINISHED_OK, FINISHED_COMPILE_ERROR):
                self.log.runs += 1
                return True

    def _shown_value(self) -> float:
        """The widget's value as the URL holds it (absent: the default)."""
        values = parse_qs(self._query).get(self._param)
        return float(values[0]) if values else self._default

    def _next_value(self) -> float:
        return self._rng.choice([v for v in self._values if v != self._current])

    async def run(self, window, open_deadline: float) -> ViewerLog:
        start = time.monotonic()
        try:
            async with connect(self._ws_url, subprotocols=["streamlit"], max_size=None,
                               open_timeout=max(1.0, open_deadline - start), ping_interval=None) as ws:
                await ws.send(self._rerun_msg(None))
                if not await self._until_run_ends(ws, open_deadline):
                    self._error("timeout", "first run did not end")
                    return self.log
                self.log.opened_at = time.monotonic()
                self.log.open_seconds = self.log.opened_at - start
                if self._widget_id is None:
                    self._error("state", f"no widget with key {self._key} in the first run")
                    return self.log
                await self._move_until(ws, window)
        except (websockets.ConnectionClosed, OSError) as exc:
            self._error("disconnect" if self.log.opened_at else "connect", repr(exc))
        except (websockets.InvalidHandshake, asyncio.TimeoutError) as exc:
            self._error("connect", repr(exc))
        return self.log

    async def _move_until(self, ws, window) -> None:
        next_move = time.monotonic() + self._rng.uniform(0, self._think)   # not all in step
        while True:
            now = time.monotonic()
            if next_move >= window.stop_at:
                return
            if next_move > now:
                await asyncio.sleep(min(next_move - now, 1.0))   # stop_at may be set meanwhile
                continue
            value = self._next_value()
            change = Change(time.monotonic(), value)
            self.log.changes.append(change)
            await ws.send(self._rerun_msg(value))
            if not await self._until_run_ends(ws, change.sent + self._timeout):
                self._error("timeout", f"no rerun end within {self._timeout} s")
                # still timed, until the hall's last change may end
                if not await self._until_run_ends(ws, max(window.stop_at, change.sent) + self._timeout):
                    return
            change.ended = time.monotonic()
            self._current = value
            if self._param and abs(self._shown_value() - value) > 1e-9:
                self._error("state", f"sent {value}, URL says {self._query}")
            next_move = change.sent + self._think * self._rng.uniform(0.5, 1.5)
