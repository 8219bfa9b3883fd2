"""Issue 17 acceptance: the gate under fair-pricing metrics, the deflated Sharpe with the real
trial count, and venue-scoped evidence. Rows are inserted as the runner writes them (test_gate's
helpers); outcomes come from seeded generators, so every run sees the same trades."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_gate import _git, conn, failed, settle_many  # noqa: F401 - conn is a fixture
from typer.testing import CliRunner

from research import gate, prereg, stats
from research.prereg_schema import Metric, Preregistration, PriceModel
from research.trials import log_trial
from updown.cli import app

FAV_PRICE = "0.85"  # the favourite, bought at its fair price


def _repo(tmp_path: Path, doc: Preregistration, **extra) -> Path:
    root = tmp_path / "repo"
    (root / "preregistrations").mkdir(parents=True)
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "author@example.com")
    _git(root, "config", "user.name", "Author")
    data = doc.model_dump(mode="python") | extra
    text = prereg.render(Preregistration.model_validate(data))
    (root / "preregistrations" / f"{doc.strategy}.yaml").write_text(text)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "pre-register")
    return root


def _fav_prereg(name: str) -> Preregistration:
    model = PriceModel(low=0.8, high=0.9, fee_rate=0.02, n_sims=400)
    return prereg.draft(name, Metric.WINS_VS_PRICE, 0.0, 0.1, price_model=model)


def _outcomes(n: int, p_win: float, seed: int) -> str:
    rng = np.random.default_rng(seed)
    return "".join("W" if u < p_win else "L" for u in rng.random(n))


def test_no_edge_favourite_buyer_is_refused_and_a_planted_edge_passes(conn, tmp_path):  # noqa: F811
    doc = _fav_prereg("fav")
    n = doc.required_sample_size
    repo = _repo(tmp_path, doc, expected_pnl_per_10_windows={"low_usd": -100, "high_usd": 100})
    # fair: each trade wins with probability price + fee = 0.85 + 0.02*0.85*0.15
    fair = _outcomes(n, 0.85 + 0.02 * 0.85 * 0.15, seed=11)
    assert 0.80 <= fair.count("W") / n <= 0.95  # the favourite wins 80-95 % with no edge
    settle_many(conn, "PAPER", fair, start=100, price=FAV_PRICE, strategy="fav")
    result = gate.evaluate(conn, repo, "fav", "live")
    evidence = failed(result)["significance"]
    assert "exact Poisson-binomial" in evidence and "edge/trade" in evidence
    # the same trades against a 50 % baseline look like a huge edge: the trap
    wins = fair.count("W")
    assert stats.binomial_test(wins, n, 0.5) < 1e-6

    planted = _outcomes(n, 0.98, seed=12)  # an edge of ~0.11 over the price paid
    settle_many(conn, "PAPER", planted, start=100, price=FAV_PRICE, strategy="edge")
    repo2 = _repo(tmp_path / "b", _fav_prereg("edge"))
    result = gate.evaluate(conn, repo2, "edge", "live")
    assert "significance" not in failed(result), failed(result)
    sig = next(c for c in result.checks if c.name == "significance")
    assert sig.figures["n"] == n and sig.figures["p_value"] < 0.05


def test_prereg_check_refuses_a_50_percent_baseline_for_the_favourite_buyer(tmp_path):
    text = prereg.render(_fav_prereg("fav"))
    text = text.replace("metric: wins_vs_price", "metric: win_rate", 1)
    text = text.replace("baseline: 0.0", "baseline: 0.5", 1)
    text = text.replace("sample_size_method: simulation", "sample_size_method: exact_binomial")
    path = tmp_path / "fav.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["prereg", "check", str(path)])
    assert result.exit_code == 2
    assert "only when every entry is at that price" in result.output
    assert "Traceback" not in result.output


def test_best_of_200_noise_cells_is_refused_by_the_deflated_sharpe(conn, tmp_path):  # noqa: F811
    doc = prereg.draft("noisy", Metric.EV_PER_DOLLAR, 0.0, 0.4, pnl_sd=1.0)
    n = doc.required_sample_size
    repo = _repo(
        tmp_path,
        doc,
        overfitting={"trial_budget": 500, "min_deflated_sharpe": 0.95},
        expected_pnl_per_10_windows={"low_usd": -100, "high_usd": 100},
    )
    rng = np.random.default_rng(200)
    cells = rng.random((200, n)) < 0.5  # fair coins at 0.50: no cell has an edge
    returns = np.where(cells, 0.99, -1.01)  # net per USD staked at 0.50 with the 2 % fee rate
    sharpes = returns.mean(axis=1) / returns.std(axis=1, ddof=1)
    best = int(np.argmax(sharpes))
    for i in range(200):
        metrics = {"sharpe": float(sharpes[i]), "trades": n}
        log_trial(conn, kind="event", strategy="noisy", params={"cell": i}, data_from_ms=None,
                  data_to_ms=None, metrics=metrics, run_id="sweep-noise")  # fmt: skip
    outcomes = "".join("W" if w else "L" for w in cells[best])
    settle_many(conn, "PAPER", outcomes, start=100, strategy="noisy")
    result = gate.evaluate(conn, repo, "noisy", "live")
    assert "significance" not in failed(result)  # nominally significant...
    evidence = failed(result)["overfitting"]  # ...but not after 200 trials
    assert "with 200 trials" in evidence and "deflated Sharpe" in evidence
    check = next(c for c in result.checks if c.name == "overfitting")
    assert check.figures["trials"] == 200 and check.figures["deflated_sharpe"] < 0.95


@pytest.mark.parametrize("mode", ["PAPER", "LIVE"])
def test_live_promotion_refuses_sandbox_only_evidence(conn, tmp_path, mode):  # noqa: F811
    doc = prereg.draft("momo", Metric.WIN_RATE, 0.5, 0.3, entry_price=0.5)
    repo = _repo(tmp_path, doc, expected_pnl_per_10_windows={"low_usd": -100, "high_usd": 100})
    settle_many(conn, mode, "WWWWWWWWWWWWWWWWWW", start=100, venue="sandbox")
    result = gate.evaluate(conn, repo, "momo", "live")
    evidence = failed(result)["clean_windows"]
    assert "only 0 settled PAPER/LIVE on polymarket windows" in evidence
    assert "18 window(s) traded off polymarket" in evidence
    assert "n < required: 0 trades" in failed(result)["significance"]
    # the same trades count towards paper, from anywhere
    settle_many(conn, "DRY_RUN", "W" * 10, start=300, venue="sandbox")
    paper = gate.evaluate(conn, repo, "momo", "paper")
    assert "clean_windows" not in failed(paper)
    clean = next(c for c in paper.checks if c.name == "clean_windows")
    assert "[DRY_RUN sandbox]" in clean.evidence  # the message names the windows that counted


def test_vwap_contrarian_is_gated_to_paper_and_refused_live_without_real_venue_evidence(conn):  # noqa: F811
    """The committed pre-registration (written by notebook 04) through the real gate: ten clean
    DRY_RUN windows promote it to paper; live needs real-venue windows and cited backtests."""
    repo = Path(__file__).resolve().parents[1]
    settle_many(conn, "DRY_RUN", "LWLLWLLWLL", start=400, price="0.30",
                strategy="vwap-contrarian", venue="sandbox")  # fmt: skip
    result = gate.evaluate(conn, repo, "vwap", "paper")
    if not next(c for c in result.checks if c.name == "git").ok:
        pytest.skip("preregistrations/vwap-contrarian.yaml is not committed in this checkout")
    assert failed(result) == {}, failed(result)
    assert result.strategy == "vwap-contrarian"
    gate.record(conn, result)
    live = gate.evaluate(conn, repo, "vwap-contrarian", "live")
    assert "cite the backtests" in failed(live)["evidence"]
    assert "only 0 settled PAPER/LIVE on polymarket windows" in failed(live)["clean_windows"]


def _sweep_trials(matrix: np.ndarray, run_id: str) -> list[tuple[str, str | None, dict]]:
    """One logged trial per configuration (column) of a sweep: its Sharpe and its per-window
    P&L series, as `updown sweep grid` logs them."""
    out = []
    for j in range(matrix.shape[1]):
        series = matrix[:, j]
        sharpe = float(series.mean() / series.std(ddof=1))
        out.append(("grid", run_id, {"sharpe": sharpe, "window_pnl": series.tolist()}))
    return out


def test_the_gate_refuses_a_sweep_whose_in_sample_winner_loses_out_of_sample():
    """PBO in the gate (issue 17, item 2: 'and PBO when a sweep exists'): two configurations
    that mirror each other over 16 windows summing to zero, so whichever wins in sample loses
    out of sample in every split (PBO 1); the same traded returns pass when the sweep's best
    configuration is best in every split (PBO 0)."""
    from research import gate_stats

    doc = prereg.draft("sweepy", Metric.EV_PER_DOLLAR, 0.0, 0.4, pnl_sd=1.0)
    data = doc.model_dump(mode="python")
    data["overfitting"] = {"trial_budget": 10, "min_deflated_sharpe": 0.9}
    p = Preregistration.model_validate(data)
    rng = np.random.default_rng(16)
    returns = list(rng.normal(0.5, 1.0, 60))  # a strong traded edge: the DSR alone passes
    x = rng.normal(0, 1, 16)
    x -= x.mean()  # the windows sum to zero: in-sample gain is out-of-sample loss
    mirrored = np.column_stack([x, -x])
    refused = gate_stats.overfitting(p, returns, _sweep_trials(mirrored, "sweep-mirror"))
    assert not refused.ok, refused
    assert refused.figures["pbo"] >= gate_stats.PBO_LIMIT and "PBO" in refused.evidence
    assert refused.figures["deflated_sharpe"] >= 0.9  # refused for the PBO, not the DSR
    y = 2 * x  # the same noise in both, one configuration 0.5 ahead in every window
    edge = np.column_stack([1.0 + y, 0.5 + y])
    kept = gate_stats.overfitting(p, returns, _sweep_trials(edge, "sweep-edge"))
    assert kept.ok and kept.figures["pbo"] < gate_stats.PBO_LIMIT, kept
