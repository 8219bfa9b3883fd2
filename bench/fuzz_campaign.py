"""The fuzz campaign (`make fuzz`): every fuzz target at its campaign budget, then the number of
generated inputs each target ran, the total, the unhandled exceptions (failures) and the machine.

Runs pytest on tests/test_*_fuzz.py with UPDOWN_FUZZ_CAMPAIGN=1 (random inputs from one seed,
printed so a run can be repeated) in N workers; each worker writes its tally (tests/fuzz_kit.py),
summed here. A failure is a generated input that crashed or broke a target's contract; pytest
prints it (hypothesis shrinks it to a minimal example). The figures also go to
reports/fuzz-campaign.json. Not part of `make test` (whose seeded sample is the same tests at
their small `sample` budget). See docs/fuzzing.md.

Usage: .venv/bin/python bench/fuzz_campaign.py [--seed N] [--workers N] [--scale X] [-- PYTEST ARGS]
(`--scale 0.1` runs a tenth of every budget: a quick rehearsal.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*_fuzz.py"))
    with tempfile.TemporaryDirectory() as counts_dir:
        env = {**os.environ, "UPDOWN_FUZZ_CAMPAIGN": "1", "UPDOWN_FUZZ_COUNTS": counts_dir,
               "UPDOWN_FUZZ_SCALE": str(args.scale)}  # fmt: skip
        command = [sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider",
                   f"--hypothesis-seed={seed}", "--timeout", "7200",
                   *(["-n", str(args.workers), "--dist", "loadgroup"] if args.workers > 1 else []),
                   *args.pytest_args]  # fmt: skip
        print(f"fuzz campaign: seed {seed}, {len(files)} files, {args.workers} workers")
        print("$ " + " ".join(command), flush=True)
        started = time.monotonic()
        code = subprocess.call(command, cwd=REPO, env=env)
        elapsed = time.monotonic() - started
        counts: Counter[str] = Counter()
        for part in Path(counts_dir).glob("*.json"):
            counts.update(json.loads(part.read_text()))
    total = sum(counts.values())
    print(f"\ninputs per target (seed {seed}):")
    for target, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:>8,}  {target}")
    verdict = "0 unhandled exceptions" if code == 0 else f"FAILURES (pytest exit {code})"
    print(f"  {total:>8,}  total, {verdict}, in {elapsed / 60:.1f} min")
    print(machine())
    report = {
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "scale": args.scale,
        "workers": args.workers,
        "pytest_exit": code,
        "minutes": round(elapsed / 60, 1),
        "total_inputs": total,
        "inputs_per_target": dict(sorted(counts.items())),
        "machine": machine(),
    }
    (REPO / "reports").mkdir(exist_ok=True)
    (REPO / "reports" / "fuzz-campaign.json").write_text(json.dumps(report, indent=2) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
