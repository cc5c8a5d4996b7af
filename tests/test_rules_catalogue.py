"""The rule catalogue is rendered from the declarations; docs/rules.md is current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crlm.cli import app
from crlm.clinical.rules import Findings, all_rules
from crlm.clinical.rules.base import Strength
from crlm.clinical.rules.catalogue import catalogue, render_catalogue
from crlm.clinical.rules.registry import Item, RuleContractError, RuleSpec
from crlm.domain import parse_patient
from crlm.evidence import resolve

REPO = Path(__file__).resolve().parents[1]

#: The advice codes CLINICAL_SPEC §4 fixes as the contract.
CONTRACT_CODES = {
    "sequencing.diversion_first", "sequencing.classic", "sequencing.combined",
    "sequencing.reverse", "sequencing.watch_and_wait_option", "warning.ras_tp53_comutation",
    "warning.chemo_over_8_cycles", "schedule.m1_option", "schedule.liver_first_option",
    "resection.upfront_surgery", "resection.preoperative_chemotherapy", "resection.staged",
    "resection.simultaneous_reasonable", "resection.parenchymal_sparing",
    "resection.fiducial_marker", "resection.two_stage", "resection.pve_required",
    "resection.flr_adequate", "warning.more_than_10_nodules", "resection.repeat_hepatectomy",
    "ablation.margin_5mm", "ablation.margin_10mm", "systemic.anti_egfr_candidate",
    "systemic.anti_egfr_not_indicated", "systemic.pd1_blockade", "systemic.anti_her2_option",
    "systemic.braf_targeted", "unresectable.conversion_chemotherapy", "unresectable.hai_option",
    "transplant.consider_evaluation", "transplant.not_candidate", "surveillance.standard",
    "surveillance.intensive_beyond_2y",
}


def test_committed_docs_rules_md_is_current() -> None:
    committed = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    assert committed == render_catalogue("markdown"), "run: crlm rules --write docs/rules.md"


def test_contract_codes_are_all_declared_and_each_code_once() -> None:
    declared = [c for spec in all_rules() for c in spec.codes]
    assert len(declared) == len(set(declared)), "a code is declared by two rules"
    assert set(declared) >= CONTRACT_CODES, CONTRACT_CODES - set(declared)
    for code in declared:
        assert re.fullmatch(r"[a-z_]+\.[a-z0-9_]+", code), code


def test_every_evidence_key_resolves_and_every_rule_is_documented() -> None:
    for spec in all_rules():
        for key in spec.evidence:
            assert resolve(key).key == key
        assert spec.trigger.strip() and spec.function.__doc__
    refs = json.loads(render_catalogue("json"))["references"]
    assert set(refs) == {k for spec in all_rules() for k in spec.evidence}


def test_catalogue_lists_rules_in_topic_order() -> None:
    topics = [e["topic"] for e in catalogue()]
    order = ["sequencing", "schedule", "resection", "ablation", "systemic", "unresectable",
             "surveillance", "imaging"]
    assert topics == sorted(topics, key=order.index)
    assert set(topics) == set(order)


def test_registry_refuses_undeclared_codes_and_evidence() -> None:
    def emits(code: str, evidence: tuple[str, ...] | None = None):  # type: ignore[no-untyped-def]
        def fn(patient, findings):  # type: ignore[no-untyped-def]
            yield Item(code, "r", "why", Strength.weak, evidence=evidence)
        return fn

    patient, findings = parse_patient({}), Findings()
    ok = RuleSpec("t.ok", "imaging", ("imaging.x",), "t", ("ahpba2025",), emits("imaging.x"))
    assert ok.evaluate(patient, findings)[0].evidence == ["ahpba2025"]
    bad_code = RuleSpec("t.bad", "imaging", ("imaging.x",), "t", ("ahpba2025",),
                        emits("imaging.y"))
    with pytest.raises(RuleContractError, match=r"undeclared code imaging\.y"):
        bad_code.evaluate(patient, findings)
    bad_ev = RuleSpec("t.ev", "imaging", ("imaging.x",), "t", ("ahpba2025",),
                      emits("imaging.x", ("fong1999",)))
    with pytest.raises(RuleContractError, match="undeclared evidence"):
        bad_ev.evaluate(patient, findings)


def test_cli_formats_and_write(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["rules"])
    assert res.exit_code == 0 and res.stdout == render_catalogue("text")
    res = runner.invoke(app, ["rules", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["rules"] == catalogue()
    out = tmp_path / "rules.md"
    res = runner.invoke(app, ["rules", "--write", str(out)])
    assert res.exit_code == 0 and out.read_text(encoding="utf-8") == render_catalogue("markdown")
    res = runner.invoke(app, ["rules", "--format", "xml"])
    assert res.exit_code == 2 and "--format" in res.stderr


def test_advice_details_are_deep_copies_of_what_the_rule_yielded() -> None:
    from crlm.clinical.rules.registry import copy_details

    shared = {"visits": [{"month": 3, "tests": ["CEA", "CT"]}], "pair": (1, [2])}
    copied = copy_details(shared)
    assert copied == shared
    copied["visits"][0]["tests"].append("MRI")
    copied["pair"][1].append(3)
    assert shared == {"visits": [{"month": 3, "tests": ["CEA", "CT"]}], "pair": (1, [2])}
    unpicklable = {"key": lambda: 1, "nested": [[1]]}  # copy.deepcopy takes over
    again = copy_details(unpicklable)
    assert again["key"] is unpicklable["key"] and again["nested"] == [[1]]
    assert again["nested"][0] is not unpicklable["nested"][0]
