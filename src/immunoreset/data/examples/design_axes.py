"""Print the table "Predicted effect of each axis" of docs/trial.md: 200 seeded sle_cart patients per axis.

    python examples/design_axes.py

Medians over the population (the same seed for every axis, so rows differ only by the axis). CAR-T below
detection = the first day after day 14 with fewer than 0.01 cells/µL (the flow assay's limit in virtual
trials); aplasia = days from the first count < 5 B cells/µL to the first return to ≥ 5 (Looney 2004).
"""

from __future__ import annotations

import numpy as np

from immunoreset.models import get_model
from immunoreset.simulate import sample_population, simulate_population

N = 200
DAYS = np.arange(0.0, 731.0)
AXES: list[tuple[str, str, dict[str, float]]] = [
    ("Erlangen (1e6/kg, 4-1BB, Flu/Cy)", "sle_cart", {}),
    ("dose 1e5/kg", "sle_cart", {"Dose": 1e5}),
    ("dose 1e7/kg", "sle_cart", {"Dose": 1e7}),
    ("no lymphodepletion", "sle_cart", {"ld_intensity": 0.0, "Dose_LDC": 0.0}),
    ("cyclophosphamide alone", "sle_cart", {"ld_intensity": 0.5}),
    ("CD28 construct", "sle_cart", {"costim_cd28": 1.0}),
    ("allogeneic", "sle_cart", {"allogeneic": 1.0}),
    ("allogeneic, HLA-edited", "sle_cart", {"allogeneic": 1.0, "hla_edited": 1.0}),
    ("CD19/BCMA", "sle_cart_bcma", {}),
    (
        "split 0.1/0.3/0.6 on days 0/3/6",
        "sle_cart_redose",
        {"Dose": 1e5, "Dose2": 3e5, "t_dose2": 3, "Dose3": 6e5, "t_dose3": 6},
    ),
    ("re-infusion day 180", "sle_cart_redose", {"Dose2": 1e6, "t_dose2": 180}),
    (
        "re-infusion day 180, no anti-CAR immunity",
        "sle_cart_redose",
        {"Dose2": 1e6, "t_dose2": 180, "immunogenic": 0.0},
    ),
]


def first(mask: np.ndarray) -> float:
    hit = np.flatnonzero(mask)
    return float(DAYS[hit[0]]) if hit.size else float("nan")


def main() -> None:
    print(
        "| axis | CAR-T Cmax /µL | Tmax d | CAR-T below detection, day | B-cell aplasia, d "
        "| anti-dsDNA d180 / baseline | LLPC autoreactive d180 | protective antibody d180 | IgG d90 g/L "
        "| 2nd peak /µL |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, model, inputs in AXES:
        spec = get_model(model)
        table = simulate_population(sample_population(spec, N, seed=2026, inputs=inputs), DAYS, workers=1)
        out = {k: table[k].to_numpy().reshape(N, DAYS.size) for k in table.columns if k not in ("patient", "time")}
        cart, b = out["totalCart"], out["bCell"]
        cmax = cart[:, :60].max(axis=1)
        tmax = DAYS[cart[:, :60].argmax(axis=1)]
        below = [first((cart[i] < 0.01) & (DAYS > 14)) for i in range(N)]
        onset = [first(b[i] < 5) for i in range(N)]
        aplasia = [first((b[i] >= 5) & (onset[i] < DAYS)) - onset[i] for i in range(N)]
        dsdna = out["antiDsDNA"][:, 180] / out["antiDsDNA"][:, 0]
        second = cart[:, 180:240].max(axis=1) if "t_dose2" in inputs and inputs["t_dose2"] == 180 else None
        cells = [
            f"{np.median(cmax):.0f}",
            f"{np.median(tmax):.0f}",
            f"{np.nanmedian(below):.0f}",
            f"{np.nanmedian(aplasia):.0f}",
            f"{np.median(dsdna):.3f}",
            f"{np.median(out['llpcAutoreactive'][:, 180]):.2f}",
            f"{np.median(out['protectiveAntibody'][:, 180]):.2f}",
            f"{np.median(out['IgG'][:, 90]):.1f}",
            "—" if second is None else f"{np.median(second):.3g}",
        ]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
