"""The runtime's command scheduler (middleware/scene/scheduler.py): commands that arrived since the last
drain apply in arrival order (timed ones already due with their frame); those for a later block wait and
apply on the block holding their frame, in frame order, same-frame ones in the order they were posted."""

from __future__ import annotations

from middleware.scene.scheduler import CommandScheduler


def test_untimed_now_in_order_and_timed_on_their_block() -> None:
    s = CommandScheduler()
    applied: list = []
    s.post("a")
    s.post("late", 700)
    s.post("b")
    s.post("early", 300)
    s.post("same-1", 300)
    s.post("past", 10)  # a frame already behind: applied at once, with its frame
    s.drain(256, lambda cmd, at: applied.append((cmd, at)))
    assert applied == [("a", None), ("b", None), ("past", 10)]
    assert s.pending() == ["early", "same-1", "late"]  # waiting, in due order
    applied.clear()
    s.drain(512, lambda cmd, at: applied.append((cmd, at)))
    assert applied == [("early", 300), ("same-1", 300)]
    applied.clear()
    s.drain(768, lambda cmd, at: applied.append((cmd, at)))
    assert applied == [("late", 700)] and s.pending() == []


def test_a_command_may_be_any_object_even_a_tuple_like_the_timed_entries() -> None:
    s = CommandScheduler()
    applied: list = []
    s.post(("@", 5, "x"))  # once the queue's own marker for a timed entry: now an ordinary command
    s.drain(1, lambda cmd, at: applied.append((cmd, at)))
    assert applied == [(("@", 5, "x"), None)]
