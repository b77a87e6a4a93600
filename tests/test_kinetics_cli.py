"""End-to-end runs of ``immunoreset kinetics`` (subprocess) on good and bad input."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from immunoreset.kinetics.recovery import SCHEDULE
from immunoreset.kinetics.stein2019 import simulate


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "immunoreset", "kinetics", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def qpcr_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = np.array(SCHEDULE, dtype=float)
    _, y = simulate(12, t, seed=3)
    rows = [
        {"patient": f"S{i + 1:02d}", "time": day, "value": f"{v:.5g}", "unit": "copies/µg", "analyte": "cart_qpcr"}
        for i in range(12)
        for day, v in zip(t, y[i], strict=True)
    ]
    rows[0]["value"] = "<5"  # a BLQ day-0 sample
    path = tmp_path_factory.mktemp("k") / "qpcr.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def lab_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = (
        "patient,time,value,unit,analyte,uln\n"
        "P1,-5,210,/uL,cd19,\n"
        "P1,7,0,/uL,cd19,\n"
        "P1,28,0,/uL,cd19,\n"
        "P1,90,0.5,/uL,cd19,\n"
        "P1,120,35,/uL,cd19,\n"
        "P1,120,94,%,cd19_naive,\n"
        "P1,-5,480,[IU]/mL,anti_dsdna,100\n"
        "P1,28,260,[IU]/mL,anti_dsdna,100\n"
        "P1,56,150,[IU]/mL,anti_dsdna,100\n"
        "P1,90,95,[IU]/mL,anti_dsdna,100\n"
        "P2,0,150,/uL,cd19,\n"
        "P2,14,0,/uL,cd19,\n"
        "P2,60,0,/uL,cd19,\n"
    )
    path = tmp_path_factory.mktemp("lab") / "lab.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_nca_csv_to_stdout_and_parquet(qpcr_csv: Path, tmp_path: Path) -> None:
    done = run("nca", str(qpcr_csv), "--analyte", "cart_qpcr")
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(io.StringIO(done.stdout))
    assert len(table) == 12 and set(table["unit"]) == {"{copies}/ug"}
    assert table.loc[table["patient"] == "S01", "n_blq"].iloc[0] == 1
    out = tmp_path / "nca.parquet"
    done = run("nca", str(qpcr_csv), "--out", str(out), "--auc-method", "linear", "--plots", str(tmp_path / "p"))
    assert done.returncode == 0, done.stderr
    linear = pd.read_parquet(out)
    assert (linear["auclast"] >= table["auclast"] * (1 - 1e-9)).all()
    assert (tmp_path / "p" / "profiles_cart_qpcr.png").stat().st_size > 1000


def test_bcells_and_autoantibodies(lab_csv: Path) -> None:
    done = run("bcells", str(lab_csv))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(io.StringIO(done.stdout)).set_index("patient")
    assert table.loc["P1", "reconstitution_lower"] == 90 and table.loc["P1", "reconstitution_upper"] == 120
    assert table.loc["P1", "naive_fraction_at_reconstitution"] == pytest.approx(0.94)
    assert not table.loc["P2", "reconstituted"] and table.loc["P2", "censored_at"] == 60
    strict = run("bcells", str(lab_csv), "--aplasia-below", "0.4", "--format", "json")
    assert strict.returncode == 0, strict.stderr
    ab = run("autoantibodies", str(lab_csv), "--analyte", "anti_dsdna")
    assert ab.returncode == 0, ab.stderr
    row = pd.read_csv(io.StringIO(ab.stdout)).iloc[0]
    assert row["normalisation_lower"] == 56 and row["normalisation_upper"] == 90
    assert row["half_life"] == pytest.approx(44.0, rel=0.2)


def test_fit_individual_and_population(qpcr_csv: Path, tmp_path: Path) -> None:
    done = run("fit", str(qpcr_csv), "--model", "stein2019", "--out", str(tmp_path / "ind.csv"))
    assert done.returncode == 0, done.stderr
    ind = pd.read_csv(tmp_path / "ind.csv")
    assert len(ind) == 12 and ind["evaluable"].all()
    assert (ind["model_auc_0_end"] > 0).all() and "model_doubling_time" in ind.columns
    pop = run(
        "fit",
        str(qpcr_csv),
        "--model",
        "stein2019",
        "--population",
        "--out",
        str(tmp_path / "pop.csv"),
        "--plots",
        str(tmp_path / "plots"),
        "--json",
        str(tmp_path / "fit.json"),
    )
    assert pop.returncode == 0, pop.stderr
    params = pd.read_csv(tmp_path / "pop.csv")
    assert set(params["kind"]) == {"typical", "omega2", "residual_sd_log"}
    pop_ind = pd.read_csv(tmp_path / "pop_individual.csv")
    assert len(pop_ind) == 12 and (pop_ind["model_auc_0_end"] > 0).all()
    assert "1 BLQ (M3 censored likelihood)" in pop.stderr
    for name in ("obs_vs_pred", "residuals", "individual_fits", "convergence", "vpc"):
        assert (tmp_path / "plots" / f"population_{name}.png").stat().st_size > 1000
    assert (tmp_path / "fit.json").read_text().startswith("{")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nca", "MISSING.csv"], "FILE"),
        (["nca", "{lab}", "--analyte", "cd20"], "analyte"),
        (["nca", "{lab}", "--auc-end", "-3"], "--auc-end"),
        (["bcells", "{lab}", "--aplasia-below", "10", "--reconstitution-at-least", "5"], "reconstitution_at_least"),
        (["autoantibodies", "{lab}", "--analyte", "anti_sm"], "--analyte"),
        (["fit", "{lab}", "--model", "stein2019"], "analyte"),
        (["nca", "{bad}"], "value"),
        (["fit", "{nolloq}", "--model", "stein2019", "--population"], "lloq"),
        (["fit", "{nolloq}", "--model", "stein2019", "--population", "--blq", "m2"], "blq"),
    ],
)
def test_bad_input_exits_2_naming_the_field(args: list[str], needle: str, lab_csv: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("patient,time,value,unit,analyte\nP1,0,-4,/uL,cd19\n", encoding="utf-8")
    nolloq = tmp_path / "nolloq.csv"
    nolloq.write_text(
        "patient,time,value,unit,analyte\nP1,0,BLQ,copies/ug,q\nP1,9,900,copies/ug,q\nP2,9,500,copies/ug,q\n",
        encoding="utf-8",
    )
    argv = [a.replace("{lab}", str(lab_csv)).replace("{bad}", str(bad)).replace("{nolloq}", str(nolloq)) for a in args]
    done = run(*argv)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert needle in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
