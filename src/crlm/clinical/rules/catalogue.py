"""The rule catalogue, rendered from the ``@rule`` declarations (never written by hand)."""

from __future__ import annotations

import json
from typing import Literal

from crlm.clinical.rules import all_rules
from crlm.clinical.rules.registry import TOPIC_ORDER
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
        }
        for spec in all_rules()
    ]


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
            lines += [f"## {topic}", "", "| Codes | Trigger | Evidence | Rule |",
                      "|---|---|---|---|"]
            for e in rows:
                codes = "<br>".join(f"`{c}`" for c in e["codes"])  # type: ignore[union-attr]
                ev = ", ".join(e["evidence"])  # type: ignore[arg-type]
                lines.append(
                    f"| {codes} | {_md_cell(str(e['trigger']))} | {ev} | `{e['rule']}` |"
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
        lines.append("")
    return "\n".join(lines)
