"""``assess`` and ``crlm assess``: contract shape, examples, exit codes, property tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import EXAMPLES
from tests.strategies import patient_documents
from typer.testing import CliRunner

from crlm.cli import app
from crlm.clinical.assess import assess
from crlm.domain import parse_patient
from crlm.evidence import BIBLIOGRAPHY

runner = CliRunner()
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))
SCORE_NAMES = {"fong_crs", "nordlinger", "game", "tumor_burden_score", "mcs", "contour_5y_os",
               "pathway_grade"}


def test_examples_exist() -> None:
    assert {p.name for p in EXAMPLE_FILES} >= {
        "synchronous_rectal.json", "metachronous_colon.json", "bilobar_pve.json",
        "missing_data.json"}


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_assessment_contract(path: Path) -> None:
    out = json.loads(assess(parse_patient(path.read_text())).model_dump_json())
    assert set(out["scores"]) == SCORE_NAMES
    for s in out["scores"].values():
        assert {"value", "risk_group", "missing", "expected_outcome", "evidence"} <= set(s)
        assert s["value"] is not None or s["missing"]
    assert {"bsa_m2", "standardized_tlv_ml", "flr_percent", "degree_of_hypertrophy_percent",
            "kinetic_growth_rate_percent_per_week", "flr_threshold_percent", "flr_adequate",
            "missing"} <= set(out["volumetry"])
    for item in out["advice"] + out["warnings"]:
        assert {"code", "topic", "recommendation", "rationale", "strength", "evidence"} <= set(item)
    assert all(k in BIBLIOGRAPHY for k in out["evidence"])


def test_synchronous_rectal_example_worked() -> None:
    a = assess(parse_patient((EXAMPLES / "synchronous_rectal.json").read_text()))
    # Fong: N1 (1) + synchronous (1) + 4 tumours (1) + CEA 18.4 (0) + 3.5 cm (0) = 3
    assert a.scores["fong_crs"].value == 3
    # GAME: KRAS (1) + CEA 18.4 < 20 (0) + N+ (1) + TBS √(3.5²+4²)=5.32 (1) + EHD (0) = 3
    assert a.scores["game"].value == 3 and a.scores["game"].risk_group == "medium"
    assert a.complexity_grade == "III"
    codes = {x.code for x in a.advice}
    assert "sequencing.reverse" in codes and "sequencing.combined" not in codes
    assert "warning.ras_tp53_comutation" in {w.code for w in a.warnings}


def test_bilobar_pve_example_volumetry() -> None:
    a = assess(parse_patient((EXAMPLES / "bilobar_pve.json").read_text()))
    assert a.volumetry.kinetic_growth_rate_percent_per_week == pytest.approx(2.815, abs=1e-3)
    assert a.volumetry.flr_adequate is True
    assert a.scores["fong_crs"].value == 5  # N2, synchronous, 12 tumours, CEA 240, 6.2 cm


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_cli_formats(fmt: str) -> None:
    res = runner.invoke(app, ["assess", str(EXAMPLES / "synchronous_rectal.json"),
                              "--format", fmt])
    assert res.exit_code == 0, res.output
    if fmt == "json":
        assert json.loads(res.stdout)["patient_id"] == "EX-RECTAL-01"
    elif fmt == "markdown":
        assert "## Prognostic scores" in res.stdout and "## References" in res.stdout
        assert "Fong clinical risk score (0–5) | 3 | high" in res.stdout
    else:
        assert res.stdout.startswith("<!doctype html>") and "Tumour burden score" in res.stdout


def test_missing_data_example_says_not_computable() -> None:
    res = runner.invoke(app, ["assess", str(EXAMPLES / "missing_data.json"), "-f", "markdown"])
    assert res.exit_code == 0
    assert "diameter of the largest liver metastasis (cm)" in res.stdout
    assert "liver.largest_diameter_cm" not in res.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"labs": {"cea_ng_ml": -2}}', "labs.cea_ng_ml"),
        ('{"liver": {"largest_diameter_cm": 0}}', "liver.largest_diameter_cm"),
        ('{"colour": "red"}', "colour: unknown field"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be an object"),
    ],
)
def test_cli_bad_input_exits_2_naming_field(tmp_path: Path, content: str, needle: str) -> None:
    f = tmp_path / "p.json"
    f.write_text(content)
    res = runner.invoke(app, ["assess", str(f)])
    assert res.exit_code == 2 and needle in res.stderr


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["assess", str(tmp_path / "nope.json")])
    assert res.exit_code == 2


def test_schema_and_evidence_commands() -> None:
    res = runner.invoke(app, ["schema", "patient"])
    assert res.exit_code == 0 and json.loads(res.stdout)["additionalProperties"] is False
    res = runner.invoke(app, ["evidence", "--format", "json"])
    keys = {r["key"] for r in json.loads(res.stdout)}
    assert keys == set(BIBLIOGRAPHY)
    assert runner.invoke(app, ["evidence", "-f", "bibtex"]).stdout.count("@article{") == len(keys)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                 HealthCheck.too_slow])
@given(patient_documents)
def test_random_valid_patients_never_crash(doc: dict) -> None:
    a = assess(parse_patient(doc))
    for s in a.scores.values():
        assert s.value is not None or s.missing
        if s.range is not None:
            assert s.range[0] <= s.range[1]


_BAD_VALUES = st.sampled_from([
    ("age_years", 17), ("age_years", "61"), ("labs", {"cea_ng_ml": -0.5}),
    ("liver", {"number_of_metastases": 201}), ("liver", {"largest_diameter_cm": 31}),
    ("height_cm", 20), ("weight_kg", 1000), ("sex", "x"), ("primary", {"site": "liver"}),
    ("unknown_field", 1), ("molecular", {"kras": "yes"}),
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much,
                                                                 HealthCheck.too_slow])
@given(patient_documents, _BAD_VALUES)
def test_random_invalid_patients_exit_2_naming_a_field(doc: dict, bad: tuple) -> None:
    key, value = bad
    doc = {**doc, key: value}
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(doc, fh)
    res = runner.invoke(app, ["assess", fh.name])
    Path(fh.name).unlink()
    assert res.exit_code == 2
    assert key in res.stderr
