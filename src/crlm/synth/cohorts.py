"""Cohort generators (vectorised numpy; seeded and reproducible; 10 to 1,000,000 rows)."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from crlm.domain import Patient, parse_patients

APPROACHES = ("classic", "combined", "reverse")

#: Maki 2023a Table 1, per approach (classic, combined, reverse): proportion with the trait among
#: patients with data, and the proportion with data where it was missing.
RECTAL_TABLE1: dict[str, tuple[float, float, float]] = {
    "n": (73, 60, 141),
    "late_period": (22 / 73, 34 / 60, 70 / 132),
    "male": (55 / 73, 39 / 60, 80 / 141),
    "distance_le_10cm": (40 / 54, 41 / 57, 113 / 137),
    "distance_known": (54 / 73, 57 / 60, 137 / 141),
    "t_ge_3": (67 / 72, 53 / 59, 119 / 130),
    "t_known": (72 / 73, 59 / 60, 130 / 141),
    "diversion": (55 / 71, 55 / 59, 89 / 139),
    "extrahepatic": (12 / 73, 11 / 60, 29 / 141),
    "cea_gt_5": (27 / 73, 22 / 60, 83 / 140),
    "chemotherapy": (67 / 73, 56 / 60, 140 / 141),
    "cycles_gt_8": (22 / 71, 4 / 55, 41 / 141),
    "grade_i": (25 / 73, 53 / 60, 52 / 141),
    "grade_ii": (4 / 73, 3 / 60, 14 / 141),
    "pve": (10 / 73, 1 / 60, 22 / 141),
    "clavien_ge_3": (14 / 73, 5 / 60, 19 / 141),
    "ras_tested": (39 / 73, 41 / 60, 95 / 141),
    "ras": (22 / 39, 26 / 41, 54 / 95),
    "tp53_tested": (30 / 73, 37 / 60, 85 / 141),
    "tp53": (23 / 30, 26 / 37, 64 / 85),
    "braf": (0.0, 2 / 60, 2 / 105),
}
#: Median (IQR) per approach: age (years), tumour number, maximum diameter (cm).
RECTAL_MEDIAN_IQR = {
    "age": ((55, 47, 62), (57, 47, 63), (54, 43, 63)),
    "number": ((2, 1, 4), (1, 1, 2), (3, 2, 6)),
    "diameter": ((2.5, 1.7, 4.2), (1.2, 0.8, 1.9), (2.3, 1.5, 4.1)),
}
#: Maki 2023a Table 2 multivariable hazard ratios for overall survival.
RECTAL_HAZARD_RATIOS = {
    "period_2013_2021": 0.75,
    "age_per_decade": 1.12,
    "approach_reverse": 0.84,
    "approach_classic": 0.75,
    "extrahepatic": 1.44,
    "cea_gt_5": 1.11,
    "cycles_gt_8": 1.94,
    "multiple": 1.23,
    "diameter_gt_5cm": 1.83,
    "clavien_ge_3": 1.48,
}
RECTAL_MEDIAN_OS_YEARS = 4.9
#: Maki 2023a Table 3: RAS/TP53 co-mutation OR 0.16 for completing the reverse approach; 65 %
#: completed overall.
REVERSE_COMPLETION_RATE = 91 / 141
COMUTATION_COMPLETION_OR = 0.16

#: Shimizu 2024 Table 2 multivariable HRs (two-stage hepatectomy); > 10 nodules is the one kept.
TSH_HAZARD_RATIOS = {"nodules_gt_10": 4.284, "lymphatic_invasion": 1.991}
TSH_5Y_OS = 0.347
WEIBULL_SHAPE = 1.2
DAYS_PER_YEAR = 365.25


def _lognormal_from_iqr(rng: np.random.Generator, median: float, q1: float, q3: float,
                        size: int) -> np.ndarray:
    sigma = max(math.log(q3 / q1) / 1.349, 0.2)
    return np.exp(rng.normal(math.log(median), sigma, size))


def _by_group(values: tuple[float, ...], group: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=float)[group]


def _weibull_times(rng: np.random.Generator, lp: np.ndarray, scale: float) -> np.ndarray:
    """Event times (years) with S(t | x) = exp(−(t/scale)^k · exp(lp))."""
    u = rng.uniform(size=lp.size)
    return scale * (-np.log(u) * np.exp(-lp)) ** (1 / WEIBULL_SHAPE)


def _scale_for_survival(lp: np.ndarray, years: float, survival: float) -> float:
    """Weibull scale so that the cohort's marginal survival at ``years`` is ``survival``."""
    def marginal(scale: float) -> float:
        return float(np.mean(np.exp(-((years / scale) ** WEIBULL_SHAPE) * np.exp(lp))))

    lo, hi = 0.1, 100.0
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        if marginal(mid) < survival:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def _nullable(values: np.ndarray, known: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="boolean").mask(~known)


def synthetic_rectal_cohort(n: int = 274, seed: int = 0) -> pd.DataFrame:
    """Synchronous rectal-cancer liver metastases after Maki 2023a (one row per patient)."""
    if not 1 <= n <= 10_000_000:
        raise ValueError("n must be between 1 and 10,000,000")
    rng = np.random.default_rng(seed)
    t = RECTAL_TABLE1
    weights = np.asarray(t["n"], dtype=float) / sum(t["n"])
    group = rng.choice(3, size=n, p=weights)

    def draw(key: str) -> np.ndarray:
        return rng.uniform(size=n) < _by_group(t[key], group)

    late = draw("late_period")
    year = np.where(late, rng.integers(2013, 2022, n), rng.integers(2004, 2013, n))
    day_of_year = rng.integers(0, 365, n)
    age = np.empty(n)
    number = np.empty(n, dtype=int)
    diameter = np.empty(n)
    for g in range(3):
        idx = group == g
        m, q1, q3 = RECTAL_MEDIAN_IQR["age"][g]
        age[idx] = rng.normal(m, (q3 - q1) / 1.349, idx.sum())
        m, q1, q3 = RECTAL_MEDIAN_IQR["number"][g]
        number[idx] = np.maximum(1, np.round(_lognormal_from_iqr(rng, m, q1, q3, idx.sum())))
        m, q1, q3 = RECTAL_MEDIAN_IQR["diameter"][g]
        diameter[idx] = _lognormal_from_iqr(rng, m, q1, q3, idx.sum())
    age = np.clip(np.round(age), 18, 90)
    number = np.minimum(number, 60)
    diameter = np.clip(np.round(diameter, 1), 0.3, 25.0)
    distance_known = draw("distance_known")
    low = draw("distance_le_10cm")
    distance = np.where(low, rng.uniform(2, 10, n), rng.uniform(10.1, 15, n)).round(1)
    t_known = draw("t_known")
    t3plus = draw("t_ge_3")
    extrahepatic = draw("extrahepatic")
    cea_high = draw("cea_gt_5")
    cea = np.where(cea_high, 5 + np.exp(rng.normal(2.5, 1.2, n)), rng.uniform(0.5, 5, n))
    chemo = draw("chemotherapy")
    many_cycles = draw("cycles_gt_8") & chemo
    cycles = np.where(many_cycles, rng.integers(9, 17, n),
                      np.where(chemo, rng.integers(2, 9, n), 0))
    u = rng.uniform(size=n)
    p1, p2 = _by_group(t["grade_i"], group), _by_group(t["grade_ii"], group)
    grade = np.where(u < p1, "I", np.where(u < p1 + p2, "II", "III"))
    pve = draw("pve")
    clavien3 = draw("clavien_ge_3")
    diversion = draw("diversion")
    ras_known, ras = draw("ras_tested"), draw("ras")
    tp53_known, tp53 = draw("tp53_tested"), draw("tp53")
    braf = draw("braf") & ras_known & ~ras
    hr = RECTAL_HAZARD_RATIOS
    lp = (
        np.log(hr["period_2013_2021"]) * late
        + np.log(hr["age_per_decade"]) * (age - 55) / 10
        + np.log(hr["approach_reverse"]) * (group == 2)
        + np.log(hr["approach_classic"]) * (group == 0)
        + np.log(hr["extrahepatic"]) * extrahepatic
        + np.log(hr["cea_gt_5"]) * cea_high
        + np.log(hr["cycles_gt_8"]) * many_cycles
        + np.log(hr["multiple"]) * (number > 1)
        + np.log(hr["diameter_gt_5cm"]) * (diameter > 5)
        + np.log(hr["clavien_ge_3"]) * clavien3
    )
    calib = np.random.default_rng(12345)
    calib_idx = calib.choice(n, size=min(n, 200_000), replace=False)
    scale = _scale_for_survival(lp[calib_idx], RECTAL_MEDIAN_OS_YEARS, 0.5)
    os_years = _weibull_times(rng, lp, scale)
    # Administrative censoring at the end of 2022 plus 2 %/year loss to follow-up.
    diagnosis = np.array([dt.date(int(y), 1, 1).toordinal() for y in range(2004, 2022)])
    diag_ord = diagnosis[year - 2004] + day_of_year
    surgery_ord = diag_ord + rng.integers(60, 200, n)
    admin_years = (dt.date(2022, 12, 31).toordinal() - surgery_ord) / DAYS_PER_YEAR
    loss = rng.exponential(50.0, n)
    follow = np.minimum(admin_years, loss)
    os_event = os_years <= follow
    os_obs = np.where(os_event, os_years, follow)
    rfs_years = np.minimum(_weibull_times(rng, lp, scale / 3.0), os_years)
    rfs_event = rfs_years <= follow
    rfs_obs = np.where(rfs_event, rfs_years, follow)
    comut = ras & tp53 & ras_known & tp53_known
    base_logit = math.log(REVERSE_COMPLETION_RATE / (1 - REVERSE_COMPLETION_RATE))
    p_complete = 1 / (1 + np.exp(-(base_logit + math.log(COMUTATION_COMPLETION_OR) * comut)))
    completed = np.where(group == 2, rng.uniform(size=n) < p_complete, True)
    approach = np.asarray(APPROACHES)[group]
    frame = pd.DataFrame({
        "id": [f"SR{seed}-{i:07d}" for i in range(n)],
        "approach": approach,
        "year_of_diagnosis": year,
        "period": np.where(late, "2013-2021", "2004-2012"),
        "age_years": age,
        "sex": np.where(draw("male"), "male", "female"),
        "distance_from_anal_verge_cm": pd.Series(distance).mask(~distance_known),
        "distance_le_10cm": _nullable(low, distance_known),
        "t_category_ge_3": _nullable(t3plus, t_known),
        "diversion": diversion,
        "extrahepatic_disease": extrahepatic,
        "cea_ng_ml": cea.round(1),
        "cea_gt_5": cea_high,
        "prehepatectomy_chemotherapy": chemo,
        "prehepatectomy_cycles": cycles,
        "cycles_gt_8": many_cycles,
        "hepatectomy_grade": grade,
        "pve": pve,
        "number_of_metastases": number,
        "multiple_metastases": number > 1,
        "largest_diameter_cm": diameter,
        "diameter_gt_5cm": diameter > 5,
        "clavien_dindo_ge_3": clavien3,
        "ras_mutant": _nullable(ras, ras_known),
        "tp53_mutant": _nullable(tp53, tp53_known),
        "braf_v600e": _nullable(braf, ras_known),
        "ras_tp53_comutation": _nullable(comut, ras_known & tp53_known),
        "completed": pd.Series(completed, dtype="boolean").mask(group != 2),
        "date_of_diagnosis": pd.to_datetime(diag_ord - 719163, unit="D").date,
        "date_of_hepatectomy": pd.to_datetime(surgery_ord - 719163, unit="D").date,
        "os_days": np.maximum(1, np.round(os_obs * DAYS_PER_YEAR)).astype(int),
        "os_event": os_event.astype(int),
        "rfs_days": np.maximum(1, np.round(rfs_obs * DAYS_PER_YEAR)).astype(int),
        "rfs_event": rfs_event.astype(int),
    })
    # the same coding as the registry's analysis dataset (crlm db export --analysis)
    frame.insert(2, "primary_site", "rectum")
    frame.insert(3, "timing", "synchronous")
    frame["ras"] = _status(frame.ras_mutant)
    frame["tp53"] = _status(frame.tp53_mutant)
    frame.attrs["description"] = "synthetic synchronous rectal LM cohort after Maki 2023a"
    return frame


def _status(flag: pd.Series) -> pd.Series:
    """nullable boolean → "mutant" / "wildtype" / missing (registry coding)."""
    return flag.map({True: "mutant", False: "wildtype"}).astype("object")


def synthetic_tsh_cohort(n: int = 53, seed: int = 0) -> pd.DataFrame:
    """Two-stage hepatectomy with PVE after Shimizu 2024 (> 10 nodules HR 4.28)."""
    if not 1 <= n <= 10_000_000:
        raise ValueError("n must be between 1 and 10,000,000")
    rng = np.random.default_rng(seed)
    many = rng.uniform(size=n) < 17 / 53
    nodules = np.where(many, np.clip(np.round(rng.normal(23, 12, n)), 11, 80),
                       np.clip(np.round(rng.normal(6, 2, n)), 2, 10)).astype(int)
    age = np.clip(np.round(np.where(many, rng.normal(55, 9, n), rng.normal(66, 6, n))), 25, 90)
    diameter = np.clip(np.round(rng.gamma(1.9, 5.2 / 1.9, n), 1), 0.5, 25)
    lymphatic = rng.uniform(size=n) < 0.5
    kras_known = rng.uniform(size=n) < 0.7
    kras = rng.uniform(size=n) < 0.45
    lp = (np.log(TSH_HAZARD_RATIOS["nodules_gt_10"]) * many
          + np.log(TSH_HAZARD_RATIOS["lymphatic_invasion"]) * lymphatic)
    calib_idx = np.random.default_rng(12345).choice(n, size=min(n, 200_000), replace=False)
    scale = _scale_for_survival(lp[calib_idx], 5.0, TSH_5Y_OS)
    os_years = _weibull_times(rng, lp, scale)
    follow = rng.uniform(0.1, 6.0, n)
    os_event = os_years <= follow
    pfs_years = np.minimum(_weibull_times(rng, lp, scale / 3.5), os_years)
    pfs_event = pfs_years <= follow
    return pd.DataFrame({
        "id": [f"TSH{seed}-{i:07d}" for i in range(n)],
        "age_years": age,
        "sex": np.where(rng.uniform(size=n) < 27 / 53, "male", "female"),
        "primary_site": rng.choice(["colon", "rectum"], size=n, p=[31 / 44, 13 / 44]),
        "number_of_nodules": nodules,
        "nodules_gt_10": many,
        "largest_diameter_cm": diameter,
        "lymphatic_invasion": lymphatic,
        "kras_mutant": pd.Series(kras, dtype="boolean").mask(~kras_known),
        "os_days": np.maximum(1, np.round(np.where(os_event, os_years, follow)
                                          * DAYS_PER_YEAR)).astype(int),
        "os_event": os_event.astype(int),
        "pfs_days": np.maximum(1, np.round(np.where(pfs_event, pfs_years, follow)
                                           * DAYS_PER_YEAR)).astype(int),
        "pfs_event": pfs_event.astype(int),
    })


def _opt(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


GRADE_PROCEDURE = {"I": "wedge_resection", "II": "left_hepatectomy", "III": "right_hepatectomy"}


VALIDATION_CHUNK = 1000  #: patients validated per call of the patient model


def to_patients(frame: pd.DataFrame) -> Iterator[Patient]:
    """Registry patients from a synthetic rectal cohort (validated by the patient model,
    :data:`VALIDATION_CHUNK` at a time)."""
    docs = patient_docs(frame)
    while chunk := list(itertools.islice(docs, VALIDATION_CHUNK)):
        yield from parse_patients(chunk)


def patient_docs(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """The patient JSON documents (not yet validated) of a synthetic rectal cohort."""
    for row in frame.itertuples(index=False):
        dx = row.date_of_diagnosis
        hep = row.date_of_hepatectomy
        end = hep + dt.timedelta(days=int(row.os_days))
        ras = _opt(row.ras_mutant)
        operations = [{"kind": "hepatectomy", "date": hep.isoformat(),
                       "procedures": [GRADE_PROCEDURE[row.hepatectomy_grade]],
                       "clavien_dindo": "IIIa" if row.clavien_dindo_ge_3 else "II"}]
        if row.approach == "classic":
            operations.insert(0, {"kind": "primary_resection",
                                  "date": (dx + dt.timedelta(days=30)).isoformat()})
        elif row.approach == "combined":
            operations.append({"kind": "primary_resection", "date": hep.isoformat()})
        elif row.completed:
            primary_date = min(hep + dt.timedelta(days=70), end)
            operations.append({"kind": "primary_resection", "date": primary_date.isoformat()})
        if row.pve:
            pve_date = max(dx, hep - dt.timedelta(days=35))
            operations.insert(0, {"kind": "pve", "date": pve_date.isoformat()})
        recurrence = (hep + dt.timedelta(days=int(row.rfs_days))) if row.rfs_event else None
        if recurrence is not None and recurrence > end:
            recurrence = end
        doc = {
            "id": row.id,
            "age_years": float(row.age_years),
            "sex": row.sex,
            "primary": {
                "site": "rectum", "date_of_diagnosis": dx.isoformat(),
                "distance_from_anal_verge_cm": _opt(row.distance_from_anal_verge_cm),
                "resected": bool(row.approach != "reverse" or row.completed),
            },
            "liver": {
                "timing": "synchronous", "disease_free_interval_months": 0.0,
                "number_of_metastases": int(row.number_of_metastases),
                "largest_diameter_cm": float(row.largest_diameter_cm),
                "planned_procedures": [GRADE_PROCEDURE[row.hepatectomy_grade]],
            },
            "extrahepatic_disease": bool(row.extrahepatic_disease),
            "labs": {"cea_ng_ml": float(row.cea_ng_ml)},
            # synthetic RAS wild type = KRAS and NRAS wild type; RAS mutant is coded on KRAS
            "molecular": {"kras": None if ras is None else ("mutant" if ras else "wildtype"),
                          "nras": None if ras is None or ras else "wildtype",
                          "tp53": (None if _opt(row.tp53_mutant) is None
                                   else ("mutant" if row.tp53_mutant else "wildtype"))},
            "chemotherapy": {"prehepatectomy_cycles": int(row.prehepatectomy_cycles)},
            "operations": operations,
            "outcome": {
                "vital_status": "dead" if row.os_event else "alive",
                "date_last_follow_up": end.isoformat(),
                **({"date_of_death": end.isoformat()} if row.os_event else {}),
                **({"date_of_recurrence": recurrence.isoformat()} if recurrence else {}),
            },
        }
        yield _drop_none(doc)


def _drop_none(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _drop_none(v) for k, v in doc.items() if v is not None}
    return doc


def centre_sizes(n: int, centres: int) -> list[int]:
    """Unequal centre sizes summing to ``n``: weights centres, centres − 1, …, 1."""
    weights = np.arange(centres, 0, -1, dtype=float)
    sizes = np.floor(n * weights / weights.sum()).astype(int)
    sizes[0] += n - sizes.sum()
    return sizes.tolist()


def synthetic_multicentre_cohort(n: int = 900, centres: int = 3, seed: int = 0) -> pd.DataFrame:
    """A rectal cohort from ``centres`` centres (column ``centre``: A, B, C, …) of unequal
    sizes and case mix: centre k over-represents approach k (twice the sampling weight)."""
    if not 2 <= centres <= 26:
        raise ValueError("centres must be between 2 and 26")
    rng = np.random.default_rng(seed)
    parts = []
    for k, size in enumerate(centre_sizes(n, centres)):
        pool = synthetic_rectal_cohort(2 * size, seed=seed * 100 + k + 1)
        weight = np.where(pool["approach"] == APPROACHES[k % len(APPROACHES)], 2.0, 1.0)
        pick = rng.choice(len(pool), size=size, replace=False, p=weight / weight.sum())
        part = pool.iloc[np.sort(pick)].reset_index(drop=True)
        part.insert(1, "centre", chr(ord("A") + k))
        part["id"] = [f"{chr(ord('A') + k)}-{i:07d}" for i in range(size)]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
