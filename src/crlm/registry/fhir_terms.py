"""Terminology for the FHIR / mCODE interchange: the standard codes crlm writes and reads.

Every code below was checked against a published source, named next to it: the mCODE STU4 IG
package (``hl7.fhir.us.mcode`` 4.0.0: its ValueSets and examples), LOINC answer lists used by the
genomics-reporting IG, and HGNC. A crlm value with no standard code is written with crlm's own
code system and extension (see :mod:`crlm.registry.fhir`), never with a guessed code.
"""

from __future__ import annotations

from crlm.domain.patient import PrimarySite

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
AJCC = "http://cancerstaging.org"
#: HGNC gene ids as the genomics-reporting IG's hgnc-vs spells the system.
HGNC = "http://www.genenames.org/geneId"
#: HGNC system spelling used by several mCODE examples; accepted on import.
HGNC_ALIASES = frozenset({HGNC, "http://www.genenames.org"})
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
DATA_ABSENT_CS = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
CONDITION_RELATED = "http://hl7.org/fhir/StructureDefinition/condition-related"
MCODE_SD = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
LATERALITY_EXT = MCODE_SD + "mcode-laterality-qualifier"
RELATED_CONDITION_EXT = MCODE_SD + "mcode-related-condition"
PROCEDURE_INTENT_EXT = MCODE_SD + "mcode-procedure-intent"

Code = tuple[str, str, str]  # (system, code, display)

# ---------------------------------------------------------------- PrimaryCancerCondition
# SNOMED disorders are descendants of 363346000 (the IG's primary-malignant-neoplasm VS filter);
# ICD-10-CM codes are enumerated in ValueSet mcode-primary-malignant-neoplasm-disorder-vs.
RECTUM_CANCER: tuple[Code, ...] = (
    (SNOMED, "363351006", "Malignant neoplasm of rectum"),
    (ICD10CM, "C20", "Malignant neoplasm of rectum"),
)
COLON_CANCER: tuple[Code, ...] = (
    (SNOMED, "363406005", "Malignant tumor of colon"),
    (ICD10CM, "C18.9", "Malignant neoplasm of colon, unspecified"),
)
TRANSVERSE_COLON_CANCER: tuple[Code, ...] = (
    (SNOMED, "363406005", "Malignant tumor of colon"),
    (ICD10CM, "C18.4", "Malignant neoplasm of transverse colon"),
)
#: Site unknown: colorectal cancer without a site.
LARGE_INTESTINE_CANCER: tuple[Code, ...] = (
    (SNOMED, "363510005", "Malignant tumor of large intestine"),
)
PRIMARY_CODES: dict[PrimarySite | None, tuple[Code, ...]] = {
    PrimarySite.rectum: RECTUM_CANCER,
    PrimarySite.right_colon: COLON_CANCER,
    PrimarySite.left_colon: COLON_CANCER,
    PrimarySite.transverse_colon: TRANSVERSE_COLON_CANCER,
    None: LARGE_INTESTINE_CANCER,
}
#: Primary-cancer codes crlm recognises on import as colorectal (site when the code says it).
COLORECTAL_CODES: dict[tuple[str, str], PrimarySite | None] = {
    (SNOMED, "363351006"): PrimarySite.rectum,
    (SNOMED, "363406005"): None,
    (SNOMED, "363510005"): None,
    (ICD10CM, "C20"): PrimarySite.rectum,
    (ICD10CM, "C18.0"): PrimarySite.right_colon,  # caecum
    (ICD10CM, "C18.2"): PrimarySite.right_colon,
    (ICD10CM, "C18.3"): PrimarySite.right_colon,  # hepatic flexure
    (ICD10CM, "C18.4"): PrimarySite.transverse_colon,
    (ICD10CM, "C18.5"): PrimarySite.left_colon,  # splenic flexure
    (ICD10CM, "C18.6"): PrimarySite.left_colon,
    (ICD10CM, "C18.7"): PrimarySite.left_colon,
    (ICD10CM, "C18.8"): None,
    (ICD10CM, "C18.9"): None,
    (ICD10CM, "C19"): None,
}

# Body sites: SNOMED body structures (descendants of 123037004, the cancer-body-location VS).
RECTUM_SITE: Code = (SNOMED, "34402009", "Rectum structure")
COLON_SITE: Code = (SNOMED, "71854001", "Colon structure")
TRANSVERSE_COLON_SITE: Code = (SNOMED, "485005", "Transverse colon structure")
LIVER_SITE: Code = (SNOMED, "10200004", "Liver structure")
# Laterality qualifiers: ValueSet mcode-laterality-qualifier-vs.
RIGHT: Code = (SNOMED, "24028007", "Right")
LEFT: Code = (SNOMED, "7771000", "Left")
#: crlm site → (body structure, laterality qualifier or None).
SITE_BODY: dict[PrimarySite, tuple[Code, Code | None]] = {
    PrimarySite.rectum: (RECTUM_SITE, None),
    PrimarySite.right_colon: (COLON_SITE, RIGHT),
    PrimarySite.left_colon: (COLON_SITE, LEFT),
    PrimarySite.transverse_colon: (TRANSVERSE_COLON_SITE, None),
}
#: Other body structures read on import (segments of the colon).
SEGMENT_SITES: dict[str, PrimarySite] = {
    "32713005": PrimarySite.right_colon,  # cecum structure
    "9040008": PrimarySite.right_colon,  # ascending colon structure
    "32622004": PrimarySite.left_colon,  # descending colon structure
    "60184004": PrimarySite.left_colon,  # sigmoid colon structure
}

# ---------------------------------------------------------------- SecondaryCancerCondition
# SNOMED descendant of 128462008 (secondary-cancer-disorder VS filter); ICD-10-CM C78.7 is
# enumerated in ValueSet mcode-secondary-cancer-disorder-vs.
LIVER_METASTASES: tuple[Code, ...] = (
    (SNOMED, "94381002", "Secondary malignant neoplasm of liver"),
    (ICD10CM, "C78.7", "Secondary malignant neoplasm of liver and intrahepatic bile duct"),
)

# ---------------------------------------------------------------- TNM staging
# Staging types: ValueSets mcode-tnm-primary-tumor-staging-type-vs / -regional-nodes-...
T_CATEGORY: Code = (SNOMED, "78873005", "T category")
N_CATEGORY: Code = (SNOMED, "277206009", "N category")
M_CATEGORY: Code = (SNOMED, "277208005", "M category")
T_TYPES = frozenset({"78873005", "399504009", "384625004", "21905-5", "21899-0"})
N_TYPES = frozenset({"277206009", "399534004", "371494008", "21906-3", "21900-6"})
M_TYPES = frozenset({"277208005", "399387003", "371497001", "21907-1", "21901-4"})
#: Staging method: ValueSet mcode-tnm-staging-method-vs (AJCC 8th edition).
AJCC_8: Code = (SNOMED, "897275008",
                "American Joint Commission on Cancer, Cancer Staging Manual, 8th edition "
                "neoplasm staging system (tumor staging)")
#: AJCC clinical (cT, cN) and pathological (pT) categories in SNOMED CT, read on import only (crlm
#: records the category without its c/p prefix and writes it with the AJCC code system). Sources:
#: mCODE examples (cT3 1228938002, cM0), DICOM CID 6160 (pT codes), published AJCC→SNOMED tables.
SNOMED_TNM: dict[str, str] = {
    "1222604002": "Tx", "1228882005": "T0", "1228884006": "Tis", "1228889001": "T1",
    "1228929004": "T2", "1228938002": "T3", "1228944003": "T4", "1228945002": "T4a",
    "1228946001": "T4b",
    "1228950008": "Tx", "1228951007": "T0", "1228953005": "Tis", "1228957006": "T1",
    "1229852009": "T2", "1229859000": "T3", "1229864001": "T4", "1229865000": "T4a",
    "1229866004": "T4b",
    "1229966003": "Nx", "1229967007": "N0", "1229973008": "N1", "1229978004": "N2",
    "1229981009": "N2a", "1229982002": "N2b",
}

# ---------------------------------------------------------------- genomics (mCODE GenomicVariant)
VARIANT_CODE: Code = (LOINC, "69548-6", "Genetic variant assessment")
GENE_STUDIED: Code = (LOINC, "48018-6", "Gene studied [ID]")
PROTEIN_HGVS: Code = (LOINC, "48005-3", "Amino acid change (pHGVS)")
HGVS = "http://varnomen.hgvs.org"
#: BRAF V600E on the BRAF protein reference sequence (ClinGen / genomics-reporting examples).
BRAF_V600E_HGVS = "NP_004324.2:p.Val600Glu"
#: LOINC answer list LL1971-2 (Presence/absence): used by the mCODE variant examples.
PRESENT: Code = (LOINC, "LA9633-4", "Present")
ABSENT: Code = (LOINC, "LA9634-2", "Absent")
LAB_CATEGORY: Code = (OBSERVATION_CATEGORY, "laboratory", "Laboratory")
#: molecular field → (HGNC id, symbol); ids checked against HGNC.
GENES: dict[str, tuple[str, str]] = {
    "kras": ("HGNC:6407", "KRAS"), "nras": ("HGNC:7989", "NRAS"), "braf": ("HGNC:1097", "BRAF"),
    "tp53": ("HGNC:11998", "TP53"), "smad4": ("HGNC:6770", "SMAD4"), "apc": ("HGNC:583", "APC"),
    "fbxw7": ("HGNC:16712", "FBXW7"), "her2": ("HGNC:3430", "ERBB2"),
}
#: Microsatellite instability: LOINC 81695-9 with answers from LL3994-2 (MSI-H as in the mCODE
#: example gx-genomic-msi; Stable and MSI-L as in the genomics-reporting examples).
MSI_CODE: Code = (LOINC, "81695-9",
                  "Microsatellite instability [Interpretation] in Cancer specimen Qualitative")
MSI_HIGH: Code = (LOINC, "LA26203-2", "MSI-H")
MSI_STABLE: Code = (LOINC, "LA14122-8", "Stable")
MSI_LOW = "LA26202-4"

# ---------------------------------------------------------------- tumour size, status, procedures
TUMOR_SIZE: Code = (LOINC, "21889-1", "Size Tumor")
LONGEST_DIMENSION: Code = (LOINC, "33728-7", "Size.maximum dimension in Tumor")
DISEASE_STATUS: Code = (LOINC, "97509-4", "Cancer disease progression")
#: ValueSet mcode-condition-status-trend-vs.
WORSENED: Code = (SNOMED, "271299001", "Patient's condition worsened")
#: Fixed code of the mCODE RadiotherapyCourseSummary profile.
RADIOTHERAPY_COURSE: Code = (SNOMED, "1217123003", "Radiotherapy course of treatment")
#: A descendant of 387713003 |Surgical procedure| (cancer-related-surgical-procedure VS).
EXCISION_OF_NEOPLASM: Code = (SNOMED, "370612006", "Excision of neoplasm")
#: Treatment intent: ValueSet mcode-procedure-intent-vs. Preoperative, conversion and adjuvant
#: systemic therapy aim at cure; palliative therapy does not.
CURATIVE: Code = (SNOMED, "373808002", "Curative - procedure intent")
PALLIATIVE: Code = (SNOMED, "363676003", "Palliative - procedure intent")
