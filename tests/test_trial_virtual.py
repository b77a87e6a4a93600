"""simulate_trial: virtual patients as registry records; reproducible; the published pattern emerges.

Scores are computed here from the raw records with the real instruments (as the registry's outcomes
module does), never read from the simulation.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from immunoreset.errors import InvalidInput
from immunoreset.instruments.myositis import myositis_tis
from immunoreset.instruments.safety import crs, icans
from immunoreset.instruments.sle import sledai2k
from immunoreset.instruments.ssc import eustar_ai
from immunoreset.models import get_model
from immunoreset.registry.records import PatientRecord, StudyRecord
from immunoreset.registry.vocabulary import MMT8_GROUPS, MRSS_AREAS, code
from immunoreset.trial import TrialDesign, VirtualTrial, load_design, simulate_trial


def _shortened(days: int) -> TrialDesign:
    design = load_design("erlangen2024")
    return design.model_copy(update={"follow_up_days": days, "visits": [v for v in design.visits if v <= days]})


@pytest.fixture(scope="module")
def trial() -> VirtualTrial:
    # 6 patients: SLE 3, IIM 1, SSc 2 (proportional); one year of follow-up
    return simulate_trial(_shortened(365), patients=6, workers=1)


def _scheduled(patient: PatientRecord) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for visit in patient.visits:
        if visit.kind == "scheduled":
            assert visit.study_day is not None
            out[visit.study_day] = {
                o.code: o.value if o.value_text is None else o.value_text for o in visit.observations
            }
    return out


def test_records_are_registry_records(trial: VirtualTrial) -> None:
    study = trial.study
    again = StudyRecord.model_validate(study.model_dump())
    assert again == study
    assert study.source == "simulation" and [s.code for s in study.sites] == ["VIRTUAL"]
    assert [p.code for p in study.patients] == ["SLE-01", "SLE-02", "SLE-03", "IIM-01", "SSc-01", "SSc-02"]
    for patient in study.patients:
        assert patient.infusion is not None and patient.infusion.dose_cells_per_kg == Decimal("1000000.0")
        assert {ld.agent: (ld.first_day, ld.last_day) for ld in patient.lymphodepletion} == {
            "fludarabine": (-5, -3),
            "cyclophosphamide": (-3, -3),
        }
        daily = [v for v in patient.visits if v.kind == "daily"]
        assert [v.study_day for v in daily] == list(range(31))
        assert all({"crs_temperature", "ice_score", "anc"} <= {o.code for o in v.observations} for v in daily)
        meds = patient.medications
        background = [m for m in meds if m.key.startswith("background")]
        assert background and all(m.stop_day is not None and m.stop_day < -5 for m in background)
        taper = [m for m in meds if m.drug == "prednisolone"]
        assert [(m.dose, m.start_day, m.stop_day) for m in taper][-1] == (Decimal("2.5"), 42, 55)
        assert {m.drug for m in meds if m.indication == "prophylaxis"} == {"aciclovir", "trimethoprim-sulfamethoxazole"}
        codes = {o.code for v in patient.visits for o in v.observations}
        assert {"car_t_cells", "cd19_b_cells", "anc"} <= codes
        assert not codes & {"crs_grade_reported", "icans_grade_reported"}  # grades are computed downstream
        assert {code(c).category for c in codes} <= {"lab", "vital", "item", "crs", "icans", "kinetics"}


def test_daily_table_and_provenance(trial: VirtualTrial) -> None:
    daily = trial.daily
    assert len(daily) == 6 * 366
    assert {"car_t_per_ul", "b_cells_per_ul", "anc_per_ul", "naive_b_fraction", "ck_u_per_l", "mrss_total"} <= set(
        daily.columns
    )
    assert daily[daily.disease == "IIM"].ck_u_per_l.notna().all()
    prov = trial.provenance
    assert prov["seed"] == 2024 and prov["design"] == "erlangen2024" and len(prov["design_sha256"]) == 64
    assert set(prov["models"]) == {"sle_cart", "iim_cart", "ssc_cart"}
    assert prov["models"]["ssc_cart"]["parameters"]["k_skin"] == pytest.approx(0.0073)
    assert set(prov["individual_parameters"]) == {p.code for p in trial.study.patients}


def test_same_seed_identical_records_and_cohort_scaling() -> None:
    design = _shortened(35)
    first = simulate_trial(design, patients=3, workers=1)
    second = simulate_trial(design, patients=3, workers=1)
    assert first.study.model_dump() == second.study.model_dump()
    assert first.daily.equals(second.daily)
    assert [p.code for p in first.study.patients] == ["SLE-01", "IIM-01", "SSc-01"]
    other = simulate_trial(design, patients=3, seed=7, workers=1)
    assert other.study.model_dump() != first.study.model_dump()
    assert other.provenance["seed"] == 7
    with pytest.raises(Exception, match="patients"):
        simulate_trial(design, patients=2, workers=1)


def test_crs_and_icans_events_follow_from_the_daily_assessments(trial: VirtualTrial) -> None:
    for patient in trial.study.patients:
        days = []
        for visit in (v for v in patient.visits if v.kind == "daily"):
            obs = {o.code: o.value if o.value_text is None else o.value_text for o in visit.observations}
            days.append((visit.study_day, obs))
        graded = crs(
            {
                "assessments": [
                    {
                        "day": d,
                        "temperature": {"value": o["crs_temperature"], "unit": "Cel"},
                        "hypotension": o["crs_hypotension"],
                        "oxygen": o["crs_oxygen"],
                    }
                    for d, o in days
                ]
            }
        )
        neuro = icans(
            {
                "assessments": [
                    {
                        "day": d,
                        "ice_score": int(o["ice_score"]),
                        "consciousness": o["icans_consciousness"],
                        "seizure": o["icans_seizure"],
                        "motor": o["icans_motor"],
                        "intracranial_pressure": o["icans_intracranial_pressure"],
                    }
                    for d, o in days
                ]
            }
        )
        events = {a.term: a for a in patient.adverse_events if a.grading == "ASTCT"}
        crs_event = events.get("Cytokine release syndrome")
        assert (crs_event.grade if crs_event else 0) == graded.max_grade
        icans_event = events.get("Immune effector cell-associated neurotoxicity syndrome")
        assert (icans_event.grade if icans_event else 0) == neuro.max_grade
        assert all(a.grade is None or a.grade <= 3 for a in patient.adverse_events)


def test_published_pattern_emerges_from_the_models(trial: VirtualTrial) -> None:
    for patient in trial.study.patients:
        visits = _scheduled(patient)
        car_t = {d: float(v["car_t_cells"]) for d, v in visits.items()}
        assert 7 <= max(car_t, key=lambda d: car_t[d]) <= 14  # CAR-T peak in the second week
        if patient.disease == "SLE":
            for day, expect_active in ((-7, True), (180, False)):
                v = visits[day]
                items = {k.removeprefix("sledai_"): bool(x) for k, x in v.items() if k.startswith("sledai_")}
                labs = {k: v[k] for k in ("c3", "c3_lln", "c4", "c4_lln", "anti_dsdna", "anti_dsdna_uln")}
                score = sledai2k({**items, **labs, "upcr_g_per_g": v["upcr"]})
                assert (score.clinical_sledai > 0) is expect_active  # clinical SLEDAI 0 at month 6
        elif patient.disease == "IIM":

            def core(v: dict[str, Any]) -> dict[str, Any]:
                return {
                    "physician_global": v["myo_physician_global"],
                    "patient_global": v["myo_patient_global"],
                    "extramuscular": v["myo_extramuscular_global"],
                    "mmt": sum(v[f"mmt8_{g}"] for g in MMT8_GROUPS),
                    "haq": v["myo_haq_di"],
                    "ck": v["ck"],
                    "aldolase": v["aldolase"],
                }

            assert visits[90]["ck"] <= visits[90]["ck_uln"] < visits[-7]["ck"]
            result = myositis_tis(
                {
                    "baseline": core(visits[-7]),
                    "follow_up": core(visits[180]),
                    "mmt_max": 80,
                    "ck_uln": visits[-7]["ck_uln"],
                    "aldolase_uln": visits[-7]["aldolase_uln"],
                }
            )
            assert result.improvement == "major"  # Müller 2024: ACR-EULAR major response
        else:

            def eustar(v: dict[str, Any]) -> Decimal:
                result = eustar_ai(
                    {
                        "delta_skin": bool(v["skin_worsening"]),
                        "digital_ulcers": bool(v["digital_ulcers"]),
                        "tendon_friction_rubs": bool(v["tendon_friction_rubs"]),
                        "mrss": int(sum(v[f"mrss_{a}"] for a in MRSS_AREAS)),
                        "crp": {"value": v["crp"], "unit": "mg/L"},
                        "dlco_percent_predicted": v["dlco_pct"],
                    }
                )
                assert result.total is not None
                return Decimal(result.total)

            assert eustar(visits[-7]) >= Decimal("2.5")  # eligibility: active disease
            assert eustar(visits[180]) < eustar(visits[-7])  # Müller 2024: EUSTAR-AI fell in all
            assert float(visits[365]["anti_scl70"]) < float(visits[-7]["anti_scl70"])
        b_cells = {d: float(v["cd19_b_cells"]) for d, v in visits.items()}
        assert min(b_cells[d] for d in (14, 21, 28)) < 10  # deep depletion


def test_registry_outcomes_score_the_virtual_patients(trial: VirtualTrial) -> None:
    """The registry's outcome calculations (shared with real patients) find the published pattern."""
    from immunoreset.registry.outcomes import compute_outcomes

    table = compute_outcomes(trial.study)
    ok = table[table.evaluable]

    def value(instrument: str, result: str, day: int) -> dict[str, str]:
        rows = ok[(ok.instrument == instrument) & (ok.result == result) & (ok.study_day == day)]
        return dict(zip(rows.patient, rows.value, strict=True))

    sle = [p.code for p in trial.study.patients if p.disease == "SLE"]
    assert value("doris", "remission", 180) == dict.fromkeys(sle, "true")
    assert value("doris", "remission", -7) == dict.fromkeys(sle, "false")
    assert set(value("drug_free", "drug_free", 180).values()) == {"true"}
    assert value("myositis_tis", "level", 180) == {"IIM-01": "major"}
    before, after = value("eustar_ai", "total", -7), value("eustar_ai", "total", 180)
    assert set(before) == {"SSc-01", "SSc-02"} and all(float(after[p]) < float(before[p]) for p in before)
    assert len(value("sledai2k", "total", 180)) == len(sle)  # all 24 descriptors recorded


def test_default_design_reproduces_the_published_pattern() -> None:
    """The full default design (15 patients, 24 months, default seed), analysed exactly as a real registry:
    Müller 2024's pattern — DORIS in all SLE patients by month 6, CAR-T peak in the second week, B-cell
    aplasia then reconstitution after months with naive cells, every patient drug-free — from the models."""
    from immunoreset.analysis.cohort import analyse_cohort
    from immunoreset.registry.outcomes import compute_outcomes

    full = simulate_trial(load_design("erlangen2024"), workers=1)
    analysis = analyse_cohort(full.study, compute_outcomes(full.study))
    visits = analysis.visits
    sle = visits[(visits.disease == "SLE") & (visits.study_day == 180)]
    assert len(sle) == 8 and sle["doris_remission"].astype(bool).all()
    flow = analysis.nca[analysis.nca["analyte"] == "cart_flow"]
    assert len(flow) == 15 and flow["tmax"].astype(float).between(7, 14).all()
    assert analysis.discontinuation["drug_free_at_last_visit"].all()
    b = analysis.bcells
    assert len(b) == 15 and b["aplasia_reached"].astype(bool).all()  # < 5 /µL (Looney 2004) in everyone
    back = b[b["reconstituted"].astype(bool)]
    assert len(back) >= 14  # a patient still aplastic at the last visit would be right-censored (counted below)
    assert back["naive_fraction_at_reconstitution"].astype(float).min() >= 0.9
    days = back["reconstitution_upper"].astype(float)
    assert days.min() >= 21 and 42 <= days.median() <= 180  # months, not days, after infusion
    # the report's simulated-vs-published row: Kaplan–Meier over the same table (interval midpoints), with
    # patients still aplastic censored, not dropped; without censoring it is the plain mean ± sample SD
    from immunoreset.report.case_series import published_comparison

    row = published_comparison(analysis).set_index("result").loc["Duration of B-cell aplasia, days (mean ± SD)"]
    mid = (back["aplasia_duration_min"].astype(float) + back["aplasia_duration_max"].astype(float)) / 2
    shown = row["this series (simulated)"]
    censored = 15 - len(back)
    assert f"{len(back)} reconstituted, {censored} censored of 15" in shown
    if censored == 0:
        assert shown.startswith(f"{mid.mean():.0f} ± {mid.std(ddof=1):.0f} (Kaplan–Meier, censored counted")
    assert "of 15 patients; aplasia < 5 /µL" in shown and row["published"] == "112 ± 47"


def test_without_the_lymphodepletion_option_the_published_model_keeps_a_naive_plateau() -> None:
    """Why every predictive spec sets Emax_LDC_Bnaive = 1: as published, Park 2025 seeds naive B cells in the
    first days, and some virtual patients never fall below 5 cells/µL; with the option they all do."""
    from immunoreset.simulate import sample_population, simulate_population

    days = np.arange(0, 41, dtype=float)
    park = get_model("park2025")
    assert park.parameter("Emax_LDC_Bnaive").value == 0.0
    lowest = {}
    for option in (0.0, 1.0):
        pop = sample_population(park, 40, seed=2024, typical={"Emax_LDC_Bnaive": option})
        table = simulate_population(pop, days, workers=1)
        lowest[option] = table.groupby("patient")["bCell"].min()
    assert (lowest[0.0] >= 5).any() and (lowest[1.0] < 5).all()
    for name in ("sle_cart", "iim_cart", "ssc_cart"):
        assert get_model(name).parameter("Emax_LDC_Bnaive").value == 1.0
    design = load_design("erlangen2024")
    assert all("Emax_LDC_Bnaive" not in c.model_parameters for c in design.cohorts)


def test_lymphodepletion_amount_scales_with_body_surface_area(trial: VirtualTrial) -> None:
    """Dose_LDC = Σ dose_mg_per_m2 × days × BSA (Mosteller), the reconstruction Park 2025 used at 1.8 m²."""
    from immunoreset.trial.virtual import body_surface_area

    design = load_design("erlangen2024")
    per_m2 = sum(a.dose_mg_per_m2 * len(a.days) for a in design.lymphodepletion)
    assert per_m2 == 1075
    assert body_surface_area(70, 180) == pytest.approx(1.8708, abs=1e-4)
    for patient in trial.study.patients:
        dose = trial.provenance["individual_parameters"][patient.code]["input:Dose_LDC"]
        assert patient.weight_kg is not None and patient.height_cm is not None
        bsa = body_surface_area(float(patient.weight_kg), float(patient.height_cm))
        assert dose == pytest.approx(per_m2 * bsa, rel=2e-3)  # weight and height are recorded rounded
    with pytest.raises(InvalidInput):
        body_surface_area(0, 170)
