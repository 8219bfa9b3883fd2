"""Feed watchdog (FM1) and reconciliation comparison (FM19), pure logic with an injected clock."""

from __future__ import annotations

from decimal import Decimal

from live.runner.reconciliation import BookSide, compare
from live.runner.watchdog import FeedWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make():
    clock, opened, closed = Clock(), [], []
    dog = FeedWatchdog(
        clock, lambda f, t: opened.append((f.name, t)), lambda f, t: closed.append((f.name, t))
    )
    return clock, dog, opened, closed


def test_feed_colour_follows_data_age():
    clock, dog, _, _ = make()
    dog.register("clob:BTC", "BTC")
    dog.data("clob:BTC")
    assert dog.status("clob:BTC") == "green"
    clock.now += 2.5
    assert dog.status("clob:BTC") == "yellow"
    clock.now += 3.0
    assert dog.status("clob:BTC") == "red"


def test_silent_open_socket_opens_one_gap_and_closes_it_when_data_returns():
    clock, dog, opened, closed = make()
    dog.register("oracle:BTC", "BTC")
    dog.data("oracle:BTC")
    clock.now += 4.9
    assert dog.check() == []
    clock.now += 0.2
    stale = dog.check()
    assert [f.name for f in stale] == ["oracle:BTC"]
    assert opened == [("oracle:BTC", 100.0)]
    assert not dog.is_fresh("oracle:BTC")
    clock.now += 3
    assert dog.check() == []  # the same gap is not opened twice
    dog.data("oracle:BTC")
    assert closed == [("oracle:BTC", clock.now)]
    assert dog.is_fresh("oracle:BTC")


def test_feed_that_never_delivers_goes_stale_from_subscription_time():
    clock, dog, opened, _ = make()
    dog.register("clob:ETH", "ETH")
    clock.now += 6
    assert [f.name for f in dog.check()] == ["clob:ETH"]
    assert opened == [("clob:ETH", 100.0)]


def test_reconciliation_reports_every_difference():
    db = BookSide({"tok-a": Decimal("2.0"), "tok-b": Decimal("1")}, frozenset({"o1", "o2"}))
    venue = BookSide({"tok-a": Decimal("2.004"), "tok-c": Decimal("3")}, frozenset({"o2", "o3"}))
    kinds = [(d["kind"], d.get("token_id") or d.get("venue_order_id")) for d in compare(db, venue)]
    assert kinds == [
        ("position", "tok-b"),
        ("position", "tok-c"),
        ("open_order_missing_at_venue", "o1"),
        ("open_order_unknown_to_db", "o3"),
    ]


def test_reconciliation_of_identical_books_is_clean():
    side = BookSide({"tok-a": Decimal("1.5")}, frozenset({"o1"}))
    assert compare(side, side) == []


def test_an_open_position_the_venue_lists_as_redeemable_is_agreement():
    """A stop between the venue's resolution and our settlement: the database still holds the
    position open, the venue lists its shares as redeemable (no longer as held). Found by the
    crash drill (a start reconciled 0.4 s after the window resolved went observer)."""
    db = BookSide({"tok-a": Decimal("1.69")}, frozenset())
    venue = BookSide({}, frozenset(), redeemable={"tok-a": Decimal("1.69")})
    assert compare(db, venue) == []
    short = BookSide({}, frozenset(), redeemable={"tok-a": Decimal("1.00")})
    assert [d["kind"] for d in compare(db, short)] == ["position"]
    stranger = BookSide({}, frozenset(), redeemable={"tok-z": Decimal("2")})
    kinds = [d["kind"] for d in compare(db, stranger)]
    assert kinds == ["position", "redeemable_unknown_to_db"]
