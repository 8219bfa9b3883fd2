"""The loader's rules: pre-open CLOB rows are dropped (FM14); a feed gap taints a window but
keeps it (FM13); exclusions carry their reason."""

from __future__ import annotations

import json

from research.data import load_files

SLUG = "btc-updown-5m-1000200"
OPEN, CLOSE = 1_000_200_000, 1_000_500_000


def _window(ts: int) -> dict:
    return {"ts": ts, "kind": "window", "slug": SLUG, "asset": "BTC", "length_s": 300,
            "open_ts": OPEN, "close_ts": CLOSE, "condition_id": "0xc", "token_up": "U",
            "token_down": "D", "tick_size": "0.01", "min_size": "5", "fee_rate": "0.07",
            "settlement_rule": "spot_at_close"}  # fmt: skip


def _book(ts: int, token: str, bid: str, ask: str) -> dict:
    return {"ts": ts, "kind": "book", "token_id": token, "bids": [[bid, "100"]],
            "asks": [[ask, "100"]]}  # fmt: skip


def _journal(tmp_path, skip: range = range(0)) -> str:
    lines = [_window(OPEN - 120_000)]
    for t in range(OPEN - 60_000, OPEN, 1000):  # the pre-window $0.50 book
        lines += [_book(t, "U", "0.49", "0.51"), _book(t, "D", "0.49", "0.51")]
    for t in range(OPEN, CLOSE, 1000):
        if t in skip:
            continue
        lines += [_book(t, "U", "0.60", "0.62"), _book(t, "D", "0.38", "0.40")]
    path = tmp_path / "journal.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return str(path)


def test_window_filter_drops_pre_open_clob_rows(tmp_path):
    ds = load_files([_journal(tmp_path)], use_cache=False)
    assert ds.dropped_pre_open == 120
    books = [e for e in ds.events if hasattr(e, "bids")]
    assert books and min(e.ts for e in books) >= OPEN
    assert all(e.bids[0][0] != 0.49 for e in books)
    assert ds.windows[SLUG].status == "used"
    assert ds.windows[SLUG].winner == "UP" and ds.windows[SLUG].resolution == "book"


def test_a_planted_gap_taints_the_window_but_keeps_it(tmp_path):
    gap = range(OPEN + 100_000, OPEN + 130_000)
    ds = load_files([_journal(tmp_path, skip=gap)], use_cache=False)
    info = ds.windows[SLUG]
    assert info.status == "tainted"
    assert "no data for 31 s" in info.reasons[0]
    assert ds.count("tainted") == 1 and ds.count("excluded") == 0
    assert any(getattr(e, "token_id", None) == "U" for e in ds.events)  # still replayed
    frame = ds.windows_frame()
    assert frame.loc[0, "status"] == "tainted"


def test_a_window_without_clob_data_is_excluded_with_its_reason(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps(_window(OPEN - 1000)) + "\n")
    ds = load_files([str(path)], use_cache=False)
    assert ds.windows[SLUG].status == "excluded"
    assert ds.exclusion_reasons() == {"no CLOB data (nothing to fill against)": 1}
    assert not ds.events
