"""Check FHIR resources against the mCODE STU4 StructureDefinitions they claim.

Driven by the profiles' snapshots (tests/fixtures/fhir/mcode, from the IG package): every element
with min ≥ 1 (slices included, for each instance of its parent), max, fixed and pattern values,
required and extensible bindings whose value set can be evaluated offline (enumerated codes, or
SNOMED filters through the asserted memberships in snomed-membership.json), extensions checked
against their own StructureDefinition, and references (they resolve inside the bundle, to a
resource of an allowed type that claims the target profile). FHIRPath invariants are not
evaluated. Bindings that cannot be evaluated offline are returned so a test can name them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
MCODE_DIR = FIXTURES / "mcode"
BASE_SD = "http://hl7.org/fhir/StructureDefinition/"


@cache
def structure(url: str) -> dict[str, Any] | None:
    """The StructureDefinition of a profile URL, if committed."""
    path = MCODE_DIR / f"StructureDefinition-{url.rsplit('/', 1)[-1]}.json"
    if not path.exists():
        return None
    sd = json.loads(path.read_text())
    return sd if sd["url"] == url else None


@cache
def _core_value_sets() -> dict[str, Any]:
    return json.loads((FIXTURES / "core-valuesets.json").read_text())


@cache
def _snomed() -> dict[str, Any]:
    return json.loads((FIXTURES / "snomed-membership.json").read_text())


def _value_set(url: str) -> dict[str, Any] | None:
    url = url.split("|")[0]
    if url in _core_value_sets():
        return {"compose": {"include": [
            {"system": s, "concept": "*" if codes == "*" else [{"code": c} for c in codes]}
            for s, codes in _core_value_sets()[url].items()]}}
    path = MCODE_DIR / f"ValueSet-{url.rsplit('/', 1)[-1]}.json"
    return json.loads(path.read_text()) if path.exists() else None


def in_value_set(url: str, system: str, code: str) -> bool | None:
    """Whether (system, code) is in the value set; None when it cannot be evaluated offline."""
    vs = _value_set(url)
    if vs is None:
        return None
    unknown = False
    for inc in vs.get("compose", {}).get("include", []):
        for nested in inc.get("valueSet", []):
            found = in_value_set(nested, system, code)
            if found:
                return True
            unknown = unknown or found is None
        if system and inc.get("system") != system:
            continue  # a bare code (gender, status) matches the code in any included system
        if inc.get("concept") == "*":
            return True
        if "concept" in inc:
            if code in {c["code"] for c in inc["concept"]}:
                return True
        elif "filter" in inc:
            for f in inc["filter"]:
                members = _snomed().get(f["value"]) if system.endswith("snomed.info/sct") else None
                if members is not None and code in members and not (
                        f["op"] == "descendent-of" and code == f["value"]):
                    return True
        else:
            return True  # the whole code system
    return None if unknown else False


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(value: Any, pattern: Any) -> bool:
    """FHIR pattern matching: every element of the pattern appears in the value."""
    if isinstance(pattern, dict) and isinstance(value, list):
        return any(_matches(v, pattern) for v in value)
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            _matches(value.get(k), v) for k, v in pattern.items())
    if isinstance(pattern, list):
        values = _as_list(value)
        return all(any(_matches(v, p) for v in values) for p in pattern)
    return value == pattern


def _codings(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [("", value)]
    if not isinstance(value, dict):
        return []
    if "coding" in value:
        return [(c.get("system", ""), c.get("code", "")) for c in value["coding"]]
    if "code" in value:
        return [(value.get("system", ""), value["code"])]
    return []


@dataclass
class Report:
    """What a check found: errors, and bindings that could not be evaluated offline."""

    errors: list[str] = field(default_factory=list)
    unchecked: set[tuple[str, str]] = field(default_factory=set)


class _Profile:
    def __init__(self, sd: dict[str, Any]) -> None:
        self.sd = sd
        self.elements = sd["snapshot"]["element"]
        self.by_id = {e["id"]: e for e in self.elements}
        self.root = self.elements[0]["id"]

    def _children(self, node: Any, segment: str, parent_id: str) -> list[Any]:
        name, _, slice_name = segment.partition(":")
        if name.endswith("[x]"):
            stem = name[:-3]
            keys = [k for k in node if k.startswith(stem) and k[len(stem):][:1].isupper()]
            if slice_name:  # type slice such as value[x]:valueQuantity
                keys = [k for k in keys if k == slice_name]
            items = [v for k in keys for v in _as_list(node[k])]
        else:
            items = _as_list(node.get(name)) if isinstance(node, dict) else []
        if slice_name and not name.endswith("[x]"):
            items = [i for i in items if self._in_slice(i, f"{parent_id}.{name}", slice_name)]
        return items

    def _in_slice(self, item: Any, sliced_id: str, slice_name: str) -> bool:
        """Whether ``item`` belongs to the slice (by the discriminator of the sliced element)."""
        slice_id = f"{sliced_id}:{slice_name}"
        slice_el = self.by_id[slice_id]
        sliced = self.by_id.get(sliced_id, {})
        for disc in sliced.get("slicing", {}).get("discriminator", []):
            path = disc["path"]
            if path == "url":
                url = self._fixed(f"{slice_id}.url") or next(
                    (p for t in slice_el.get("type", []) for p in t.get("profile", [])), None)
                return isinstance(item, dict) and item.get("url") == url
            target = item if path == "$this" else (item.get(path) if isinstance(item, dict)
                                                   else None)
            pattern = (self._pattern(slice_id) if path == "$this"
                       else self._pattern(f"{slice_id}.{path}") or self._type_pattern(
                           slice_el, path))

            if pattern is not None:
                return _matches(target, pattern)
            binding = slice_el.get("binding", {})
            if binding.get("valueSet"):
                return any(in_value_set(binding["valueSet"], s, c)
                           for s, c in _codings(target))
        return False

    def _fixed(self, element_id: str) -> Any:
        el = self.by_id.get(element_id, {})
        return next((v for k, v in el.items() if k.startswith("fixed")), None)

    def _pattern(self, element_id: str) -> Any:
        el = self.by_id.get(element_id, {})
        return next((v for k, v in el.items() if k.startswith(("pattern", "fixed"))), None)

    @staticmethod
    def _type_pattern(slice_el: dict[str, Any], path: str) -> Any:
        for t in slice_el.get("type", []):
            for profile in t.get("profile", []):
                sd = structure(profile)
                if sd is not None:
                    el = next((e for e in sd["snapshot"]["element"]
                               if e["id"] == f"{sd['type']}.{path}"), {})
                    found = next((v for k, v in el.items()
                                  if k.startswith(("pattern", "fixed"))), None)
                    if found is not None:
                        return found
        return None

    def instances(self, resource: Any, element_id: str) -> list[tuple[str, Any]]:
        """(location, value) of every instance of an element in the resource."""
        segments = element_id.split(".")
        found: list[tuple[str, Any]] = [(segments[0], resource)]
        parent_id = segments[0]
        for segment in segments[1:]:
            nxt = []
            for where, node in found:
                for i, child in enumerate(self._children(node, segment, parent_id)):
                    nxt.append((f"{where}.{segment.partition(':')[0]}[{i}]", child))
            found = nxt
            parent_id = f"{parent_id}.{segment}"
        return found

    def check(self, resource: Any, report: Report, bundle: Bundle | None) -> None:
        for el in self.elements[1:]:
            eid = el["id"]
            parent_id, _, last = eid.rpartition(".")
            for where, parent in self.instances(resource, parent_id):
                items = self._children(parent, last, parent_id)
                low, high = el.get("min", 0), el.get("max", "*")
                if len(items) < low:
                    report.errors.append(f"{where}.{last}: {len(items)} present, profile "
                                         f"{self.sd['name']} needs at least {low}")
                if high != "*" and len(items) > int(high):
                    report.errors.append(f"{where}.{last}: {len(items)} present, profile "
                                         f"{self.sd['name']} allows at most {high}")
                for i, item in enumerate(items):
                    self._check_value(el, item, f"{where}.{last}[{i}]", report, bundle)

    def _check_value(self, el: dict[str, Any], item: Any, where: str, report: Report,
                     bundle: Bundle | None) -> None:
        for key, pattern in el.items():
            if key.startswith(("fixed", "pattern")) and not _matches(item, pattern):
                report.errors.append(f"{where}: does not match the profile's {key}")
        binding = el.get("binding", {})
        if binding.get("strength") in ("required", "extensible") and binding.get("valueSet"):
            codings = _codings(item)
            if codings:
                results = [in_value_set(binding["valueSet"], s, c) for s, c in codings]
                if any(r is None for r in results) and not any(results):
                    report.unchecked.add((el["id"], binding["valueSet"]))
                elif not any(results):
                    report.errors.append(f"{where}: {codings} not in {binding['valueSet']} "
                                         f"({binding['strength']} binding)")
        types = el.get("type", [])
        for t in types:
            if t.get("code") == "Extension" and t.get("profile") and isinstance(item, dict):
                sd = structure(t["profile"][0])
                if sd is not None and item.get("url") == sd["url"]:
                    _Profile(sd).check(item, report, bundle)
            if (t.get("code") == "Reference" and bundle is not None and isinstance(item, dict)
                    and "reference" in item):
                bundle.check_reference(item, t.get("targetProfile", []), where, report)


class Bundle:
    """The bundle a resource sits in: resolves ``urn:uuid`` (fullUrl) references."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}

    def check_reference(self, ref: dict[str, Any], targets: list[str], where: str,
                        report: Report) -> None:
        target = self.by_url.get(ref.get("reference", ""))
        if target is None:
            report.errors.append(f"{where}: reference {ref.get('reference')!r} does not "
                                 "resolve inside the bundle")
            return
        if not targets:
            return
        claimed = set(target.get("meta", {}).get("profile", []))
        for profile in list(claimed):
            sd = structure(profile)
            if sd is not None:
                claimed.add(sd["baseDefinition"])
        if not any(t in claimed or t == BASE_SD + target["resourceType"] for t in targets):
            report.errors.append(f"{where}: refers to a {target['resourceType']} that claims "
                                 f"none of {targets}")


def check_resource(resource: dict[str, Any], bundle: Bundle | None = None) -> Report:
    """Check a resource against every profile it claims (an unknown profile is an error)."""
    report = Report()
    for url in resource.get("meta", {}).get("profile", []):
        sd = structure(url)
        if sd is None:
            report.errors.append(f"{resource['resourceType']}: claims {url}, which the tests "
                                 "have no StructureDefinition for")
            continue
        if sd["type"] != resource["resourceType"]:
            report.errors.append(f"{resource['resourceType']}: claims a {sd['type']} profile")
            continue
        _Profile(sd).check(resource, report, bundle)
    return report
