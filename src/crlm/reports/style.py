"""House style of a journal report: one p-value style and one label dictionary.

Every table, figure and sentence of ``crlm analyze`` formats p values with :class:`PStyle` and
names variables and levels through :class:`Labels`, so a report never mixes "< .001" with
"0.239" or prints a raw column name such as ``cea_gt_5[True]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

PStyleName = Literal["nejm", "lancet", "apa"]


@dataclass(frozen=True)
class PStyle:
    """p values as a journal prints them.

    * ``nejm``: P<0.001; 3 decimals below 0.01, else 2 (P=0.04) — NEJM author guidelines;
    * ``lancet``: p<0·0001; otherwise 2 significant figures, mid-line decimal point (p=0·043);
    * ``apa``: p < .001; 3 decimals without the leading zero (p = .239) — APA 7th edition.
    """

    name: PStyleName = "nejm"

    @property
    def letter(self) -> str:
        """The symbol as the style writes it: P (NEJM) or p."""
        return "P" if self.name == "nejm" else "p"

    def value(self, p: float | None) -> str:
        """The p value alone, as a table cell: ``<0.001``, ``0.04``, ``.239``, ``0·043``."""
        if p is None or not math.isfinite(p):
            return ""
        if self.name == "apa":
            return "< .001" if p < 0.001 else f"{p:.3f}".lstrip("0")
        if self.name == "lancet":
            if p < 0.0001:
                return "<0·0001"
            digits = min(4, max(2, 1 - math.floor(math.log10(p))))  # 2 significant figures
            text = f"{p:.{digits}f}"
            return text.replace(".", "·")
        if p < 0.001:
            return "<0.001"
        return f"{p:.3f}" if round(p, 3) < 0.01 else f"{p:.2f}"

    def text(self, p: float | None) -> str:
        """p in running text or on a figure: ``P<0.001``, ``P=0.04``, ``p = .239``."""
        v = self.value(p)
        if not v:
            return ""
        if self.name == "apa":
            return f"p {v}" if v.startswith("<") else f"p = {v}"
        return f"{self.letter}{v}" if v.startswith("<") else f"{self.letter}={v}"


YES_NO = {"true": "Yes", "false": "No", "1": "Yes", "0": "No", "1.0": "Yes", "0.0": "No"}


@dataclass(frozen=True)
class Labels:
    """Human labels of variables and of their levels (from the analysis config).

    A variable without a label reads as its name with spaces ("age years" → "Age years");
    a yes/no level without a label reads Yes/No; another level reads as written.
    """

    variables: Mapping[str, str] = field(default_factory=dict)
    levels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def var(self, name: str) -> str:
        """The label of variable ``name``."""
        if name in self.variables:
            return self.variables[name]
        text = name.replace("_", " ").strip()
        return text[:1].upper() + text[1:]

    def level(self, name: str, level: object) -> str:
        """The label of ``level`` of variable ``name``."""
        key = str(level)
        given = self.levels.get(name, {})
        lowered = {str(k).lower(): v for k, v in given.items()}
        if key.lower() in lowered:
            return lowered[key.lower()]
        return YES_NO.get(key.lower(), key)

    def term(self, name: str) -> str:
        """A model term ``var[level]`` → "Var: level label"; a plain variable → its label."""
        if name.endswith("]") and "[" in name:
            var, _, level = name[:-1].partition("[")
            return f"{self.var(var)}: {self.level(var, level)}"
        return self.var(name)
