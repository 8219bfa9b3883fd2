"""Every research notebook executes under papermill with small parameters (the same kernel the
reports use: `python3` of the venv)."""

from __future__ import annotations

from pathlib import Path

import jupytext
import papermill
import pytest

REPO = Path(__file__).resolve().parents[1]
TOB = "btc_15m_top_of_book_1s_2025-12-26.csv.gz"
CHAINLINK = "chainlink_btcusd_2026-06-08.csv.gz"
GAMMA = "gamma_btc_5m_markets_2026-06-08.jsonl.gz"

pytestmark = pytest.mark.xdist_group("notebooks")

SMALL = {
    "01_explore_data": {"max_windows": 2},
    "02_replay_backtest": {"check": False},
    "03_parameter_sweep": {"offsets_s": [60], "min_prices": [0.5]},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_executes_under_papermill(name, shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    source = tmp_path / f"{name}.ipynb"
    jupytext.write(jupytext.read(REPO / "notebooks" / f"{name}.py"), source)
    params = {"files": [str(shared_data / TOB)], **SMALL[name]}
    papermill.execute_notebook(
        str(source), str(tmp_path / "out.ipynb"), parameters=params, kernel_name="python3",
        cwd=str(REPO), progress_bar=False,
    )  # fmt: skip
    assert (tmp_path / "out.ipynb").stat().st_size > 0


def test_vwap_contrarian_notebook_writes_its_preregistration(shared_data, tmp_path, monkeypatch):
    """Notebook 04 researches the strategy on the real data and pre-registers it through
    research.prereg.write; the file it writes validates and its sample size recomputes."""
    from research import prereg

    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    source = tmp_path / "04.ipynb"
    jupytext.write(jupytext.read(REPO / "notebooks" / "04_vwap_contrarian.py"), source)
    files = [shared_data / n for n in (CHAINLINK, GAMMA, TOB)]
    params = {"files": [str(f) for f in files], "prereg_dir": str(tmp_path / "pre"), "n_sims": 200}
    papermill.execute_notebook(
        str(source), str(tmp_path / "out.ipynb"), parameters=params, kernel_name="python3",
        cwd=str(REPO), progress_bar=False,
    )  # fmt: skip
    doc = prereg.load(tmp_path / "pre" / "vwap-contrarian.yaml")
    assert doc.metric == "wins_vs_price" and doc.price_model.n_sims == 200
    assert doc.required_sample_size == prereg.computed_sample_size(doc)
    assert "vwap" in doc.names


def test_a_notebook_reads_the_database_on_a_fresh_clone(shared_data, db_url, tmp_path, monkeypatch):
    """No files given: notebook 01 loads the last recorded day from the database (what `make
    demo` or `updown data import` filled), and says how to import data when it is empty."""
    from typer.testing import CliRunner

    from updown.cli import app

    monkeypatch.setenv("UPDOWN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("UPDOWN_DATABASE_URL", db_url)
    source = tmp_path / "01.ipynb"
    jupytext.write(jupytext.read(REPO / "notebooks" / "01_explore_data.py"), source)
    run = {"kernel_name": "python3", "cwd": str(REPO), "progress_bar": False}
    with pytest.raises(papermill.PapermillExecutionError, match="updown data import"):
        papermill.execute_notebook(str(source), str(tmp_path / "empty.ipynb"), **run)
    imported = CliRunner().invoke(app, ["data", "import", str(shared_data / TOB)])
    assert imported.exit_code == 0, imported.output
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(source), str(out), parameters={"max_windows": 2}, **run)
    text = out.read_text()
    assert "btc-updown-15m-" in text and "'used'" in text
