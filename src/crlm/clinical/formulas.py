"""The volumetry formulas one can choose (importable without the clinical models: fast CLI)."""

from typing import Literal

#: body-surface-area formula
BsaMethod = Literal["mosteller", "dubois"]
#: standardized total liver volume formula (from BSA, or from body weight)
TlvFormula = Literal["bsa", "weight"]
