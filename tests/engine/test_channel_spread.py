"""The reconciliation spread over runs (``sync.engine.channel.spread``): pure pieces."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.base import ChatMessage, HistoryPage
from sync.engine.channel.spread import Stretch, Sweep, covers, newest_recorded, ts_order


def _ts(n: int) -> str:
    return f"{1_700_000_000 + n}.{n:06d}"


def _page(stamps: list[str], before: str, size: int) -> HistoryPage:
    """What Slack answers: the ``size`` newest messages older than ``before``."""
    older = [s for s in stamps if not before or ts_order(s) < ts_order(before)]
    chunk = older[-size:]
    return HistoryPage([ChatMessage(s, "") for s in chunk], len(older) > len(chunk),
                       chunk[0] if chunk else "")


@given(count=st.integers(0, 80), size=st.integers(1, 20))
def test_one_pass_covers_every_message_and_ends(count: int, size: int) -> None:
    stamps = [_ts(n) for n in range(1, count + 1)]
    sweep = Sweep()
    stretches: list[Stretch] = []
    pages = 0
    while True:
        page = _page(stamps, sweep.before, size)
        stretches += sweep.stretches(page)
        sweep = sweep.after(page)
        pages += 1
        if sweep.passes:
            break
    assert pages == max(1, -(-count // size))
    assert all(covers(stretches, ts) for ts in stamps)
    assert sweep == Sweep("", 0, 1)  # the next pass starts from the newest


def test_a_page_covers_only_its_stretch() -> None:
    stamps = [_ts(n) for n in range(1, 31)]
    page = _page(stamps, "", 15)
    (stretch,) = Sweep().stretches(page)
    assert stretch == Stretch(stamps[15], "", from_low=True)
    assert not covers([stretch], stamps[3]) and covers([stretch], stamps[20])
    assert covers([stretch], stamps[15]) and not covers([stretch], stamps[14])
    following = Sweep().after(page)
    assert following == Sweep(stamps[15], 1, 0)
    (older,) = following.stretches(_page(stamps, following.before, 15))
    assert older == Stretch("", stamps[15]) and covers([older], stamps[0])


def test_an_incremental_read_covers_what_is_newer_than_its_oldest() -> None:
    newer = Stretch(_ts(5), "")
    assert not covers([newer], _ts(5)) and covers([newer], _ts(6))
    assert newest_recorded([_ts(3), _ts(12), _ts(7)]) == _ts(12)
    assert newest_recorded([]) is None


def test_the_bookmark_round_trips_and_a_bad_one_starts_afresh() -> None:
    sweep = Sweep(_ts(9), 3, 2)
    assert Sweep.load(sweep.dump()) == sweep
    assert Sweep.load(None) == Sweep() == Sweep.load("not json") == Sweep.load("[1]")
