"""The rule catalogue, rendered from the ``@rule`` declarations (never written by hand)."""

from __future__ import annotations

import json
from typing import Literal

from crlm.clinical.phase import ALL_PHASES, Phase
from crlm.clinical.rules import all_rules
from crlm.clinical.rules.registry import TOPIC_ORDER
from crlm.clinical.vocabulary import PHASES
from crlm.evidence import resolve

CatalogueFormat = Literal["text", "markdown", "json"]
FORMATS: tuple[str, ...] = ("text", "markdown", "json")


def catalogue() -> list[dict[str, object]]:
    """One entry per rule: topic, rule name, codes, trigger, evidence keys."""
    return [
        {
            "topic": spec.topic,
            "rule": spec.name,
            "codes": list(spec.codes),
            "trigger": spec.trigger,
            "evidence": list(spec.evidence),
            "phases": [p.value for p in Phase if p in spec.phases],
            "excludes": {code: sorted(spec.excludes.get(code, ())) for code in spec.codes
                         if spec.excludes.get(code)},
        }
        for spec in all_rules()
    ]


def _phases_text(phases: list[str]) -> str:
    if set(phases) == {p.value for p in ALL_PHASES}:
        return "all phases"
    return "; ".join(PHASES[Phase(p)] for p in phases)


def _excludes_text(excludes: dict[str, list[str]]) -> str:
    return "<br>".join(f"`{c}` ⟂ " + ", ".join(f"`{o}`" for o in other)
                       for c, other in excludes.items())


def _evidence_keys() -> list[str]:
    keys: list[str] = []
    for spec in all_rules():
        keys += [k for k in spec.evidence if k not in keys]
    return sorted(keys)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_catalogue(fmt: CatalogueFormat = "text") -> str:
    """The catalogue as plain text, Markdown or JSON (ends with a newline)."""
    entries = catalogue()
    if fmt == "json":
        refs = {k: resolve(k).citation() for k in _evidence_keys()}
        return json.dumps({"rules": entries, "references": refs}, indent=2,
                          ensure_ascii=False) + "\n"
    lines: list[str] = []
    if fmt == "markdown":
        lines += [
            "# crlm rule catalogue",
            "",
            "Generated from the rule declarations by `crlm rules --format markdown "
            "--write docs/rules.md`; do not edit by hand.",
            "",
        ]
        for topic in TOPIC_ORDER:
            rows = [e for e in entries if e["topic"] == topic]
            if not rows:
                continue
            lines += [f"## {topic}", "",
                      "| Codes | Trigger | Phases | Excludes | Evidence | Rule |",
                      "|---|---|---|---|---|---|"]
            for e in rows:
                codes = "<br>".join(f"`{c}`" for c in e["codes"])  # type: ignore[union-attr]
                ev = ", ".join(e["evidence"])  # type: ignore[arg-type]
                phases = _phases_text(e["phases"])  # type: ignore[arg-type]
                excl = _excludes_text(e["excludes"])  # type: ignore[arg-type]
                lines.append(
                    f"| {codes} | {_md_cell(str(e['trigger']))} | {phases} | {excl} | {ev} "
                    f"| `{e['rule']}` |"
                )
            lines.append("")
        lines += ["## References", ""]
        lines += [f"- **{k}**: {_md_cell(resolve(k).citation())}" for k in _evidence_keys()]
        return "\n".join(lines) + "\n"
    for topic in TOPIC_ORDER:
        rows = [e for e in entries if e["topic"] == topic]
        if not rows:
            continue
        lines.append(topic.upper())
        for e in rows:
            lines.append(f"  {', '.join(e['codes'])}")  # type: ignore[arg-type]
            lines.append(f"    trigger:  {e['trigger']}")
            lines.append(f"    evidence: {', '.join(e['evidence'])}")  # type: ignore[arg-type]
            lines.append(f"    phases:   {_phases_text(e['phases'])}")  # type: ignore[arg-type]
        lines.append("")
    return "\n".join(lines)
