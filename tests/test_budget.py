"""ui.budget: one wall-clock Guard for every page's work. It stops at its budget or when the
visitor's session has gone, whichever comes first, remembers why, and says what it left out."""
from types import SimpleNamespace

import pytest

import ui.budget as budget
from ui.budget import BUDGET, SESSION, Guard, Stopped, session_alive


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_guard_stops_at_its_budget_and_stays_stopped():
    clock = Clock()
    guard = Guard(2.0, alive=lambda: True, clock=clock)
    assert not guard.should_stop() and guard.stopped_by is None
    clock.now += 1.9
    assert not guard.should_stop()
    clock.now += 0.1
    assert guard.should_stop() and guard.stopped_by == BUDGET
    clock.now -= 10                               # a stop is final whatever the clock says later
    assert guard.should_stop()


def test_a_guard_stops_when_its_session_has_gone():
    alive = [True]
    guard = Guard(60.0, alive=lambda: alive[0], clock=Clock())
    assert not guard.should_stop()
    alive[0] = False
    assert guard.should_stop() and guard.stopped_by == SESSION
    alive[0] = True
    assert guard.should_stop() and guard.stopped_by == SESSION


def test_the_budget_is_named_first_when_both_hold():
    guard = Guard(0.0, alive=lambda: False, clock=Clock())
    assert guard.should_stop() and guard.stopped_by == BUDGET


def test_allows_remembers_what_was_left_out():
    clock = Clock()
    guard = Guard(1.0, alive=lambda: True, clock=clock)
    assert guard.allows("the curve") and guard.skipped == []
    clock.now += 5
    assert not guard.allows("the map") and not guard.allows("the split")
    assert guard.skipped == ["the map", "the split"]


def test_check_raises_stopped_with_the_reason():
    guard = Guard(60.0, alive=lambda: False, clock=Clock())
    with pytest.raises(Stopped) as stopped:
        guard.check()
    assert stopped.value.why == SESSION and stopped.value.partial is None
    Guard(60.0, alive=lambda: True, clock=Clock()).check()          # nothing to stop: no exception


def test_the_default_alive_check_is_read_when_the_guard_is_made(monkeypatch):
    monkeypatch.setattr(budget, "session_alive", lambda: False)
    assert Guard(60.0).should_stop()


def test_session_alive_asks_the_runtime(monkeypatch):
    assert session_alive()                       # no served script run: nothing to stop
    active = {"abc"}
    runtime = SimpleNamespace(is_active_session=lambda session_id: session_id in active)
    monkeypatch.setattr(budget, "get_script_run_ctx", lambda suppress_warning: SimpleNamespace(session_id="abc"))
    monkeypatch.setattr(budget, "Runtime", SimpleNamespace(exists=lambda: True, instance=lambda: runtime))
    assert session_alive()
    active.clear()                               # the tab closed: Streamlit dropped the session
    assert not session_alive()
