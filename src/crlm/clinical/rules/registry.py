"""The rule registry: every rule is declared once, with ``@rule``, and that declaration is used
both to run it (:func:`evaluate_all`) and to render the rule catalogue (``crlm rules``).

A rule function yields :class:`Item` objects; the registry turns them into :class:`Advice`,
filling in the topic and the evidence, and refuses an item whose code or evidence the
declaration does not list — so the catalogue can never drift from what the code does.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from crlm.clinical.phase import ALL_PHASES, Phase
from crlm.clinical.rules.base import Advice, Findings, Strength
from crlm.clinical.vocabulary import humanize
from crlm.domain import Patient
from crlm.evidence import cite

#: Topics in the order the MDT discusses them (and ``evaluate_rules`` returns them).
TOPIC_ORDER: tuple[str, ...] = (
    "sequencing",
    "schedule",
    "resection",
    "ablation",
    "systemic",
    "unresectable",
    "surveillance",
    "imaging",
)

Kind = Literal["advice", "warning", "information", "disagreement"]


@dataclass(frozen=True)
class Item:
    """What a rule function yields; the registry adds topic and evidence."""

    code: str
    recommendation: str
    rationale: str
    strength: Strength
    kind: Kind = "advice"
    evidence: tuple[str, ...] | None = None  # a subset of the rule's evidence; None = all
    details: Mapping[str, Any] = field(default_factory=dict)


RuleFunction = Callable[[Patient, Findings], Iterable[Item]]


class RuleContractError(RuntimeError):
    """A rule yielded a code or evidence key its declaration does not list."""


@dataclass(frozen=True)
class RuleSpec:
    """One declared rule: what it may emit, what triggers it, which evidence it rests on, the
    phases it speaks to, and which codes each of its codes excludes (contradicts)."""

    name: str
    topic: str
    codes: tuple[str, ...]
    trigger: str
    evidence: tuple[str, ...]
    function: RuleFunction
    phases: frozenset[Phase] = ALL_PHASES
    excludes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    compatible: frozenset[frozenset[str]] = frozenset()

    def evaluate(self, patient: Patient, findings: Findings) -> list[Advice]:
        """Run the rule and return its items as validated :class:`Advice`."""
        out: list[Advice] = []
        for item in self.function(patient, findings):
            if item.code not in self.codes:
                raise RuleContractError(f"rule {self.name} emitted undeclared code {item.code}")
            keys = item.evidence if item.evidence is not None else self.evidence
            undeclared = [k for k in keys if k not in self.evidence]
            if undeclared:
                raise RuleContractError(f"rule {self.name} cites undeclared evidence {undeclared}")
            out.append(
                Advice(
                    code=item.code,
                    topic=self.topic,
                    recommendation=humanize(item.recommendation),
                    rationale=humanize(item.rationale),
                    strength=item.strength,
                    evidence=list(keys),
                    kind=item.kind,
                    details=copy_details(item.details),
                )
            )
        return out


def copy_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of an item's details, so that no advice shares a rule module's objects.

    Details are JSON-like values (dicts, lists, numbers, strings); a pickle round trip copies
    them ≈ 5x faster than :func:`copy.deepcopy`, which remains for anything pickle refuses.
    """
    plain = dict(details)
    try:
        copied: dict[str, Any] = pickle.loads(pickle.dumps(plain, pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        copied = copy.deepcopy(plain)
    return copied


_RULES: dict[str, RuleSpec] = {}


def rule(
    *, topic: str, codes: Iterable[str], trigger: str, evidence: Iterable[str],
    phases: Iterable[Phase] = ALL_PHASES,
    excludes: Mapping[str, Iterable[str]] | None = None,
    compatible: Iterable[Iterable[str]] = (),
) -> Callable[[RuleFunction], RuleFunction]:
    """Register a rule function under ``topic`` with the codes it may emit.

    ``phases``: the treatment phases the rule speaks to (silent in the others).
    ``excludes``: code → the codes (of any rule) it contradicts; declared on both sides.
    ``compatible``: pairs of this rule's own codes that may appear together; every other pair
    of its codes must be declared as excluding each other.
    """
    if topic not in TOPIC_ORDER:
        raise ValueError(f"unknown topic {topic!r}; known: {', '.join(TOPIC_ORDER)}")
    code_tuple = tuple(codes)
    evidence_tuple = tuple(cite(*evidence))
    if not code_tuple or not evidence_tuple:
        raise ValueError("a rule needs at least one code and one evidence key")
    excluded = {code: frozenset(other) for code, other in (excludes or {}).items()}
    unknown = set(excluded) - set(code_tuple)
    if unknown:
        raise ValueError(f"excludes names codes the rule does not emit: {sorted(unknown)}")

    def register(function: RuleFunction) -> RuleFunction:
        name = f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"
        _RULES[name] = RuleSpec(name, topic, code_tuple, trigger, evidence_tuple, function,
                                frozenset(phases), excluded,
                                frozenset(frozenset(pair) for pair in compatible))
        return function

    return register


def exclusions() -> dict[str, frozenset[str]]:
    """Every code's excluded codes, over all rules."""
    out: dict[str, set[str]] = {}
    for spec in _RULES.values():
        for code, other in spec.excludes.items():
            out.setdefault(code, set()).update(other)
    return {code: frozenset(other) for code, other in out.items()}


def all_rules() -> list[RuleSpec]:
    """Every registered rule, in topic order and, within a topic, in declaration order."""
    rank = {t: i for i, t in enumerate(TOPIC_ORDER)}
    return sorted(_RULES.values(), key=lambda s: rank[s.topic])


def evaluate_all(patient: Patient, findings: Findings) -> list[Advice]:
    """Run, in topic order, every registered rule that speaks to the patient's phase."""
    out: list[Advice] = []
    for spec in all_rules():
        if findings.phase in spec.phases:
            out.extend(spec.evaluate(patient, findings))
    return out
