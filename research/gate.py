"""The promotion gate, `updown promote` (DESIGN §9, spec Phase 3 scale-up criteria).

Each check is a small function returning a `Check` with its evidence; the gate passes only if all
do, and then records a `promotions` row bound to the pre-registration file's sha256 and the git
commit. Evidence comes from the prior environment: for --to paper, DRY_RUN and BACKTEST
positions; for --to live, PAPER and LIVE (sandbox or real) positions. A window counts when the
strategy's positions in it are CLOSED and its settlement in that mode is final (agree/disagree).
Trades for significance and the kill criterion are those opened after the commit that last
changed the pre-registration file, so data seen before the declaration cannot count.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from live.promotion import status as promotion
from live.promotion.kill_criteria import SprtDecision, SprtKill, evaluate_kill, run_sprt
from research import gate_stats
from research import prereg as pr
from research.gate_evidence import (
    EVIDENCE_MODES,
    EVIDENCE_VENUE,
    Trade,
    Window,
    assertion_failures,
    last_settled_windows,
    trades_since,
    trial_rows,
    windows_elsewhere,
)
from research.prereg_schema import Preregistration, Purpose, SignificanceRule

WINDOWS_REQUIRED = 10


@dataclass(frozen=True, slots=True)
class Check:
    """One gate rule's verdict and the evidence it rests on, in words."""

    name: str
    ok: bool
    evidence: str
    figures: dict | None = None  # the numbers behind the verdict, kept in the promotion record


@dataclass(frozen=True, slots=True)
class GitState:
    ok: bool
    evidence: str
    commit: str | None = None
    changed_at: datetime | None = None  # commit time of the last change to the file


@dataclass
class Context:
    """What the checks read: the DB, the repo, the file and its git state."""

    conn: psycopg.Connection
    repo_root: Path
    strategy: str
    target: str
    path: Path | None
    prereg: Preregistration | None = None
    prereg_error: str = ""
    git: GitState = field(default_factory=lambda: GitState(False, "not checked"))

    @property
    def modes(self) -> tuple[str, ...]:
        return EVIDENCE_MODES[self.target]

    @property
    def venue(self) -> str | None:
        """The venue evidence must come from: 'polymarket' for live, any for paper."""
        return EVIDENCE_VENUE[self.target]

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.repo_root).as_posix() if self.path else "?"


@dataclass(frozen=True, slots=True)
class GateResult:
    """All checks; `passed` only if every one is ok."""

    strategy: str
    target: str
    checks: tuple[Check, ...]
    file_path: str
    file_sha256: str | None
    git_commit: str | None

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)


# ---------------------------------------------------------------- reading the repo and the DB


def find_prereg(repo_root: Path, strategy: str) -> Path | None:
    """`preregistrations/<strategy>.yaml`, else the file whose strategy or aliases name it."""
    exact = promotion.prereg_path(repo_root, strategy)
    if exact.is_file():
        return exact
    for path in sorted((Path(repo_root) / promotion.PREREG_DIR).glob("*.yaml")):
        try:
            if strategy in pr.load(path).names:
                return path
        except pr.PreregError:
            continue
    return None


def _git(repo_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo_root), *args], capture_output=True, text=True, check=False
    )


def git_state(repo_root: Path, rel: str) -> GitState:
    """Whether `rel` is tracked with no local changes, the HEAD commit, and when it last changed."""
    if _git(repo_root, "ls-files", "--error-unmatch", "--", rel).returncode != 0:
        return GitState(False, f"{rel} is not committed in git")
    dirty = _git(repo_root, "status", "--porcelain", "--", rel).stdout.strip()
    if dirty:
        return GitState(False, f"{rel} has uncommitted changes ({dirty.split()[0]})")
    head = _git(repo_root, "rev-parse", "HEAD").stdout.strip()
    last = _git(repo_root, "log", "-1", "--format=%H %cI", "--", rel).stdout.split()
    changed_at = datetime.fromisoformat(last[1])
    evidence = f"committed, clean at HEAD {head[:12]}; last changed in {last[0][:12]} at {last[1]}"
    return GitState(True, evidence, head, changed_at)


# ---------------------------------------------------------------- the checks, in order


def check_prereg(ctx: Context) -> Check:
    if ctx.prereg is None:
        return Check("preregistration", False, ctx.prereg_error)
    p = ctx.prereg
    return Check("preregistration", True, f"{ctx.rel} validates ({p.strategy} v{p.version})")


def check_sample_size(ctx: Context) -> Check:
    p = ctx.prereg
    try:
        computed = pr.computed_sample_size(p)
    except pr.SampleSizeError as exc:
        return Check("sample_size", False, f"declared {p.required_sample_size}, but {exc}")
    ok = computed == p.required_sample_size
    evidence = f"declared {p.required_sample_size}, power calculation gives {computed}"
    return Check("sample_size", ok, evidence)


def check_git(ctx: Context) -> Check:
    return Check("git", ctx.git.ok, ctx.git.evidence)


def check_prior_promotion(ctx: Context) -> Check:
    if ctx.target == "paper":
        return Check("prior_promotion", True, "none needed for paper")
    status = promotion.promotion_status(ctx.conn, ctx.prereg.strategy, ctx.repo_root, "paper")
    where = f"paper promotion #{status.promotion_id}" if status.promotion_id else "paper promotion"
    return Check("prior_promotion", status.valid, f"{where}: {status.reason}")


def check_evidence(ctx: Context) -> Check:
    p = ctx.prereg
    if ctx.target == "paper" or p.purpose is Purpose.VERIFICATION:
        return Check("evidence", True, f"not required ({ctx.target}, purpose {p.purpose})")
    ids = p.evidence.backtest_run_ids
    found = {
        row[0]
        for row in ctx.conn.execute(
            "SELECT run_id FROM backtest_runs WHERE run_id = ANY(%s)", (ids,)
        ).fetchall()
    }
    missing = [i for i in ids if i not in found]
    if not ids:
        return Check("evidence", False, "evidence.backtest_run_ids is empty: cite the backtests")
    if missing:
        return Check("evidence", False, f"backtest runs not in backtest_runs: {', '.join(missing)}")
    return Check("evidence", True, f"{len(ids)} backtest run(s) on record: {', '.join(ids)}")


def _windows(ctx: Context) -> list[Window]:
    names, modes = ctx.prereg.names, ctx.modes
    return last_settled_windows(ctx.conn, names, modes, WINDOWS_REQUIRED, ctx.venue)


def _where(ctx: Context) -> str:
    modes = "/".join(ctx.modes)
    return f"{modes} on {ctx.venue}" if ctx.venue else modes


def check_clean_windows(ctx: Context) -> Check:
    windows = _windows(ctx)
    modes = _where(ctx)
    if len(windows) < WINDOWS_REQUIRED:
        evidence = f"only {len(windows)} settled {modes} windows; {WINDOWS_REQUIRED} required"
        if ctx.venue:
            other = windows_elsewhere(ctx.conn, ctx.prereg.names, ctx.modes, ctx.venue)
            evidence += (
                f" ({other} window(s) traded off {ctx.venue} (sandbox or unknown venue) do not"
                f" count for --to {ctx.target})"
            )
        return Check("clean_windows", False, evidence)
    failures = assertion_failures(ctx.conn, windows, ctx.modes)
    disagreed = [w.slug for w in windows if w.agreement != "agree"]
    span = f"{windows[-1].slug} .. {windows[0].slug}"
    if failures or disagreed:
        named = [
            f"{name} at {ts.isoformat()} ({slug or 'global'})" for name, ts, slug, _ in failures
        ]
        named += [f"settlement disagreement on {slug}" for slug in disagreed]
        evidence = f"{len(named)} failure(s) in the last {WINDOWS_REQUIRED} {modes} windows: "
        return Check("clean_windows", False, evidence + "; ".join(named[:5]))
    counted = ", ".join(f"{w.slug} [{w.mode} {w.venue or 'no venue'}]" for w in windows)
    evidence = f"last {WINDOWS_REQUIRED} {modes} windows ({span}) had zero assertion failures"
    return Check("clean_windows", True, f"{evidence}; counted: {counted}")


def check_pnl_range(ctx: Context) -> Check:
    windows = _windows(ctx)
    bounds = ctx.prereg.expected_pnl_per_10_windows
    if len(windows) < WINDOWS_REQUIRED:
        return Check("pnl_range", False, f"only {len(windows)} settled windows to measure")
    if any(w.pnl_net is None for w in windows):
        return Check("pnl_range", False, "a closed position in the last 10 windows has no pnl_net")
    total = sum(w.pnl_net for w in windows)
    ok = bounds.low_usd <= total <= bounds.high_usd
    verb = "within" if ok else "OUTSIDE"
    evidence = f"net P&L {total} USD over the last 10 {_where(ctx)} windows, {verb} the "
    evidence += "pre-registered range "
    return Check("pnl_range", ok, evidence + f"[{bounds.low_usd}, {bounds.high_usd}]")


def _trades(ctx: Context) -> list[Trade]:
    names, modes, since = ctx.prereg.names, ctx.modes, ctx.git.changed_at
    return trades_since(ctx.conn, names, modes, since, ctx.venue)


def check_significance(ctx: Context) -> Check:
    p = ctx.prereg
    if ctx.target == "paper":
        return Check("significance", True, "not evaluated before paper")
    if p.purpose is Purpose.VERIFICATION:
        return Check("significance", True, "purpose verification: no edge claimed, none tested")
    trades = _trades(ctx)
    if p.significance_rule is SignificanceRule.SPRT:
        return _sequential_significance(p, [t.pnl_net for t in trades])
    n, required = len(trades), p.required_sample_size
    if n < required:
        line = gate_stats.calibration_of(trades).line()
        evidence = f"n < required: {n} trades, {required} required ({_where(ctx)}); {line}"
        return Check("significance", False, evidence)
    # exactly the pre-registered sample: no peeking, no extension
    verdict = gate_stats.significance(p, trades[:required])
    return Check("significance", verdict.ok, verdict.evidence, verdict.figures)


def check_overfitting(ctx: Context) -> Check:
    """Deflated Sharpe with the real trial count on the trades since the declaration (venue-
    scoped), evaluated with significance, for --to live."""
    p = ctx.prereg
    if ctx.target == "paper":
        return Check("overfitting", True, "not evaluated before paper")
    if p.purpose is Purpose.VERIFICATION:
        return Check("overfitting", True, "purpose verification: no configuration was selected")
    trades = _trades(ctx)[: p.required_sample_size]
    if len(trades) < p.required_sample_size:
        evidence = f"n < required: {len(trades)} trades, {p.required_sample_size} required"
        return Check("overfitting", False, evidence)
    source = f"{_where(ctx)} trades since the declaration"
    trials = trial_rows(ctx.conn, p.names)
    verdict = gate_stats.overfitting(p, [t.return_per_dollar for t in trades], trials)
    return Check("overfitting", verdict.ok, f"{source}: {verdict.evidence}", verdict.figures)


def _sequential_significance(p: Preregistration, pnls: list[Decimal]) -> Check:
    kill = p.kill()
    assert isinstance(kill, SprtKill)  # the schema requires it for the sprt rule
    state = run_sprt(kill, pnls)
    evidence = f"SPRT after {len(pnls)} trades: llr={state.llr:.3f}, {state.decision}"
    if state.decision is SprtDecision.ACCEPT_H1:
        return Check("significance", True, f"{evidence} at n={state.decided_at}")
    if state.decision is SprtDecision.ACCEPT_H0:
        return Check("significance", False, f"{evidence} at n={state.decided_at}: no edge")
    return Check("significance", False, f"n < required: sequential test undecided; {evidence}")


def check_kill_criterion(ctx: Context) -> Check:
    verdict = evaluate_kill(ctx.prereg.kill(), [t.pnl_net for t in _trades(ctx)])
    state = "HIT" if verdict.hit else "not met"
    evidence = f"{verdict.kind} {state} over {verdict.n} trades: {verdict.detail}"
    return Check("kill_criterion", not verdict.hit, evidence)


CHECKS: tuple[Callable[[Context], Check], ...] = (
    check_sample_size,
    check_prior_promotion,
    check_evidence,
    check_clean_windows,
    check_pnl_range,
    check_significance,
    check_overfitting,
    check_kill_criterion,
)

NEEDS_COMMIT = (
    check_significance,
    check_overfitting,
    check_kill_criterion,
)  # they count trades since the commit

# ---------------------------------------------------------------- running and recording


def _context(conn: psycopg.Connection, repo_root: Path, strategy: str, target: str) -> Context:
    repo_root = Path(repo_root).resolve()
    path = find_prereg(repo_root, strategy)
    ctx = Context(conn, repo_root, strategy, target, path)
    if path is None:
        ctx.prereg_error = f"no pre-registration for {strategy} in {promotion.PREREG_DIR}/"
        return ctx
    ctx.git = git_state(repo_root, ctx.rel)
    try:
        ctx.prereg = pr.load(path)
    except pr.PreregError as exc:
        ctx.prereg_error = f"{ctx.rel} is invalid: {exc}"
    return ctx


def evaluate(conn: psycopg.Connection, repo_root: Path, strategy: str, target: str) -> GateResult:
    """Run every check for promoting `strategy` to `target` ('paper' or 'live'). Checks that need
    the pre-registration or git facts fail as 'not evaluated' when those are missing."""
    if target not in EVIDENCE_MODES:
        raise ValueError(f"target must be paper or live, got {target!r}")
    ctx = _context(conn, repo_root, strategy, target)
    checks = [check_prereg(ctx), check_git(ctx)]
    for rule in CHECKS:
        name = rule.__name__.removeprefix("check_")
        if ctx.prereg is None:
            checks.append(Check(name, False, "not evaluated: no valid pre-registration"))
        elif not ctx.git.ok and rule in NEEDS_COMMIT:
            checks.append(Check(name, False, "not evaluated: no commit dates the declaration"))
        else:
            checks.append(rule(ctx))
    name = ctx.prereg.strategy if ctx.prereg else strategy
    sha = promotion.file_sha256(ctx.path) if ctx.path else None
    return GateResult(name, target, tuple(checks), ctx.rel, sha, ctx.git.commit)


def record(conn: psycopg.Connection, result: GateResult) -> int:
    """Insert the promotion row for a passed gate result and commit; returns its id."""
    if not result.passed:
        raise ValueError("only a passed gate result can be recorded")
    checks = [
        {"name": c.name, "ok": c.ok, "evidence": c.evidence}
        | ({"figures": c.figures} if c.figures else {})
        for c in result.checks
    ]
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO promotions (strategy, target, file_path, file_sha256, git_commit, checks) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (
                result.strategy,
                result.target,
                result.file_path,
                result.file_sha256,
                result.git_commit,
                Jsonb(checks),
            ),
        ).fetchone()
    return row[0]
