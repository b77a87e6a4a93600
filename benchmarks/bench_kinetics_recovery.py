"""Benchmark: Stein 2019 parameter recovery by SAEM at full size, with wall times.

Simulates ``--patients`` (default 100) patients from the published typical values and IIV
(Stein 2019 Table 1) at days 0, 1, 4, 7, 9, 11, 14, 21, 28, 56, 90, 180, 365 with the published
log-scale residual error (σ = 0.56), fits by SAEM (default options) from starting values 1.4–2×
off, repeats for ``--replicates`` seeds, and prints per-parameter recovery and timing.

    python benchmarks/bench_kinetics_recovery.py [--patients 100] [--replicates 20] [--json out.json]

Recovery criterion (issue 7): mean relative error of the typical values within 15 %, of the IIV
variances ω² within 30 %. Exit status 1 if it fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

from immunoreset.kinetics.recovery import recovery_study
from immunoreset.kinetics.saem import SAEMOptions
from immunoreset.kinetics.stein2019 import PARAMETERS, STEIN2019


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--replicates", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--json", default=None, help="Write the full report as JSON here.")
    args = parser.parse_args()

    seeds = range(args.first_seed, args.first_seed + args.replicates)
    start = time.perf_counter()
    report = recovery_study(args.patients, seeds=seeds, options=SAEMOptions())
    elapsed = time.perf_counter() - start
    walls = [r.wall_time_s for r in report.replicates]

    print(
        f"Stein 2019 recovery: {args.patients} patients x {args.replicates} replicates (seeds {seeds.start}-"
        f"{seeds.stop - 1}); {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s)"
    )
    print(
        f"SAEM wall time per fit: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s; "
        f"total {elapsed:.1f} s (including simulation)"
    )
    print()
    header = f"{'parameter':<9} {'truth':>10} {'mean est':>10} {'mean err':>9} {'median|err|':>11} {'within':>7}"
    for label, truth, errors, tol in (
        ("typical", STEIN2019.typical, [r.typical_error for r in report.replicates], report.typical_tolerance),
        ("omega2", STEIN2019.omega2, [r.omega2_error for r in report.replicates], report.omega2_tolerance),
    ):
        print(f"{label} (tolerance {tol:.0%} on the mean error)")
        print(header)
        for k in PARAMETERS:
            errs = [e[k] for e in errors]
            mean_err = statistics.fmean(errs)
            within = sum(abs(e) <= tol for e in errs) / len(errs)
            print(
                f"{k:<9} {truth[k]:>10.4g} {truth[k] * (1 + mean_err):>10.4g} {mean_err:>+9.1%} "
                f"{statistics.median(abs(e) for e in errs):>11.1%} {within:>7.0%}"
            )
        print()
    print("standard errors: mean reported RSE (Louis) vs empirical SD of ln(estimate) across replicates")
    for k in PARAMETERS:
        rse = [r.typical_rse_percent[k] for r in report.replicates if r.typical_rse_percent[k] is not None]
        logs = [math.log1p(r.typical_error[k]) for r in report.replicates]
        emp = statistics.stdev(logs) * 100 if len(logs) > 1 else float("nan")
        print(f"  {k:<6} reported {statistics.fmean(rse) if rse else float('nan'):5.1f} %   empirical {emp:5.1f} %")
    print()
    print(f"sigma: truth {STEIN2019.sigma}, mean error {report.mean_sigma_error:+.1%}")
    print(
        f"recovery {'PASSED' if report.passed else 'FAILED'}" + (f": {report.failures()}" if not report.passed else "")
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({**report.model_dump(), "elapsed_s": elapsed}, fh, indent=2)
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
