"""The one bibliography of crlm: evidence key → citation.

Every score, classification and advice item refers to these keys only. A DOI is given only
where it was checked against the source papers' reference lists or the original record; where
it was not, ``doi`` is ``None`` rather than a guess. ``note`` records discrepancies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Reference:
    key: str
    authors: str | None  # None: not stated by the source and not verified
    title: str | None
    journal: str
    year: int | None
    doi: str | None = None
    note: str | None = None
    label: str | None = None  # the in-text citation, when first author + year is not enough

    @property
    def short(self) -> str:
        """The in-text citation a tumour board reads: ``Shimizu 2024``, ``AHPBA guideline 2025``."""
        if self.label:
            return self.label
        first = (self.authors or "").split(",")[0].split()
        if len(first) > 1 and first[-1].isupper():
            first = first[:-1]  # "Groot Koerkamp B" → "Groot Koerkamp"
        name = " ".join(first) if first else "Unknown authors"
        return f"{name} {self.year}" if self.year else name

    def citation(self) -> str:
        doi = f" doi:{self.doi}" if self.doi else ""
        authors = self.authors or "Authors not stated"
        title = self.title or "Title not stated"
        year = f" {self.year}." if self.year else ""
        return f"{authors}. {title}. {self.journal}.{year}{doi}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _refs(*refs: Reference) -> dict[str, Reference]:
    out: dict[str, Reference] = {}
    for r in refs:
        if r.key in out:  # pragma: no cover - guarded by tests
            raise ValueError(f"duplicate evidence key {r.key}")
        out[r.key] = r
    # same first author and year: "Shindoh 2013a", "Shindoh 2013b" in order of listing
    by_short: dict[str, list[str]] = {}
    for key, ref in out.items():
        by_short.setdefault(ref.short, []).append(key)
    for short, keys in by_short.items():
        if len(keys) > 1:
            for letter, key in zip("abcdefgh", keys, strict=False):
                out[key] = replace(out[key], label=f"{short}{letter}")
    return out


BIBLIOGRAPHY: dict[str, Reference] = _refs(
    # --- the five seed papers ---------------------------------------------------------------
    Reference(
        "maki2023_sequencing",
        "Maki H, Ayabe RI, Nishioka Y, Konishi T, Newhook TE, Tran Cao HS, Chun YS, Tzeng CWD, "
        "You YN, Vauthey JN",
        "Hepatectomy before primary tumor resection as preferred approach for synchronous liver "
        "metastases from rectal cancer",
        "Ann Surg Oncol",
        2023,
        None,
        "MD Anderson, 274 patients: reverse approach 141, classic 73, combined 60.",
        "Maki 2023a",
    ),
    Reference(
        "maki2023_locoregional",
        "Maki H, Jain AJ, Haddad A, Lendoire M, Chun YS, Vauthey JN",
        "Locoregional treatment for colorectal liver metastases aiming for precision medicine",
        "Ann Gastroenterol Surg 7:543-552",
        2023,
        "10.1002/ags3.12689",
        None,
        "Maki 2023b",
    ),
    Reference(
        "dutch_lfa_m1",
        None,
        None,
        "BJS Open",
        None,
        None,
        "Dutch multicentre retrospective study of the liver-first approach versus the M1 "
        "schedule in 260 patients with locally advanced rectal cancer and synchronous liver "
        "metastases. The text available to crlm carries no title page: authors, title, year "
        "and DOI are not stated and are left unknown.",
        "Dutch LFA vs M1 study",
    ),
    Reference(
        "ahpba2025",
        "Members of the AHPBA Professional Standards Committee",
        "Assessment and treatment considerations for patients with colorectal liver metastases: "
        "AHPBA consensus guideline and update for surgeons",
        "HPB",
        2025,
        None,
        "AHPBA guideline 2025. Describes the Nordlinger score with CEA bands and without "
        "age/size, and GAME "
        "with metastasis count instead of TBS; crlm follows the original papers.",
        "AHPBA guideline 2025",
    ),
    Reference(
        "shimizu2024",
        "Shimizu T, Aoki T, Ishizuka M, Sakamoto K, Beppu T, Honda G, et al.",
        "Evaluation of two-stage hepatectomy using portal vein embolization for colorectal liver "
        "metastasis: a retrospective nationwide cohort survey in Japan",
        "Int J Surg 110:6691-6701",
        2024,
        "10.1097/JS9.0000000000001811",
        "Shimizu 2024. The seed prints the DOI with one zero missing (JS9.000000000001811).",
    ),
    # --- prognostic scores --------------------------------------------------------------------
    Reference(
        "fong1999",
        "Fong Y, Fortner J, Sun RL, Brennan MF, Blumgart LH",
        "Clinical score for predicting recurrence after hepatic resection for metastatic "
        "colorectal cancer: analysis of 1001 consecutive cases",
        "Ann Surg 230(3):309-318",
        1999,
        "10.1097/00000658-199909000-00004",
        "Maki 2023a and AHPBA guideline 2025 print the DOI with one zero missing (0000658-...).",
    ),
    Reference(
        "nordlinger1996",
        "Nordlinger B, Guiguet M, Vaillant JC, Balladur P, Boudjema K, Bachellier P, et al.",
        "Surgical resection of colorectal carcinoma metastases to the liver. A prognostic "
        "scoring system to improve case selection, based on 1568 patients. Association "
        "Française de Chirurgie",
        "Cancer 77(7):1254-1262",
        1996,
        None,
        "AHPBA guideline 2025 describes CEA bands (5-30 = 1, > 30 = 2) without age or size; the "
        "original "
        "gives one point per factor (7 factors). Cut-offs follow the usual reading [common].",
    ),
    Reference(
        "sasaki2018",
        "Sasaki K, Morioka D, Conci S, Margonis GA, Sawada Y, Ruzzenente A, et al.",
        "The tumor burden score: a new 'metro-ticket' prognostic tool for colorectal liver "
        "metastases based on tumor size and number of tumors",
        "Ann Surg 267(1):132-141",
        2018,
        "10.1097/SLA.0000000000002064",
    ),
    Reference(
        "margonis2018",
        "Margonis GA, Sasaki K, Gholami S, Kim Y, Andreatos N, Rezaee N, et al.",
        "Genetic and Morphological Evaluation (GAME) score for patients with colorectal liver "
        "metastases",
        "Br J Surg 105:1210-1220",
        2018,
        "10.1002/bjs.10838",
        "AHPBA guideline 2025 says 'number of metastases (3-8, >= 9)'; the score uses the tumour "
        "burden "
        "score zones, not the count.",
    ),
    Reference(
        "bolhuis2022",
        "Bolhuis K, Wensink GE, Elferink MAG, Bond MJG, Dijksterhuis WPM, Fijneman RJA, "
        "Kranenburg OW, Borel Rinkes IHM, Koopman M, Swijnenburg RJ, Vink GR, Hagendoorn J, "
        "Punt CJA, Elias SG, Roodhart JML",
        "External validation of two established clinical risk scores predicting outcome after "
        "local treatment of colorectal liver metastases in a nationwide cohort",
        "Cancers (Basel) 14(10):2356",
        2022,
        "10.3390/cancers14102356",
        "Population-based Dutch cohort of 1,105 patients locally treated for CRLM (2015/2016): "
        "median OS 68.1 / 46.7 / 32.4 months for GAME low / moderate / high risk; C-index for "
        "OS 0.577 (Fong) and 0.596 (GAME).",
    ),
    Reference(
        "brudvik2019",
        "Brudvik KW, Jones RP, Giuliante F, Shindoh J, Passot G, Chung MH, et al.",
        "RAS mutation clinical risk score to predict survival after resection of colorectal "
        "liver metastases",
        "Ann Surg 269(1):120-126",
        2019,
        "10.1097/SLA.0000000000002319",
    ),
    Reference(
        "kawaguchi2021_contour",
        "Kawaguchi Y, Kopetz S, Tran Cao HS, Panettieri E, De Bellis M, Nishioka Y, et al.",
        "Contour prognostic model for predicting survival after resection of colorectal liver "
        "metastases: development and multicentre validation study using largest diameter and "
        "number of metastases with RAS mutation status",
        "Br J Surg 108(8):968-975",
        2021,
        "10.1093/bjs/znab086",
        "Published coefficients are not reproduced; crlm fits the model on the user's registry.",
    ),
    Reference(
        "kawaguchi2021_pathway",
        "Kawaguchi Y, Kopetz S, Kwong L, et al.",
        "Genomic sequencing and insight into clinical heterogeneity and prognostic pathway genes "
        "in patients with metastatic colorectal cancer",
        "J Am Coll Surg 233(2):272-284",
        2021,
        "10.1016/j.jamcollsurg.2021.05.027",
        "Pathway-centric grade boundaries not verified; crlm shows gene status, not a grade.",
    ),
    Reference(
        "lillemoe2020",
        "Lillemoe HA, Passot G, Kawaguchi Y, et al.",
        "RAS/TP53 co-mutation is associated with worse survival after concurrent resection of "
        "colorectal liver metastases and extrahepatic disease",
        "Ann Surg",
        2020,
        "10.1097/SLA.0000000000004672",
    ),
    # --- volumetry ----------------------------------------------------------------------------
    Reference(
        "mosteller1987",
        "Mosteller RD",
        "Simplified calculation of body-surface area",
        "N Engl J Med 317(17):1098",
        1987,
        "10.1056/NEJM198710223171717",
    ),
    Reference(
        "dubois1916",
        "Du Bois D, Du Bois EF",
        "A formula to estimate the approximate surface area if height and weight be known",
        "Arch Intern Med 17:863-871",
        1916,
        "10.1001/archinte.1916.00080130010002",
    ),
    Reference(
        "vauthey2002",
        "Vauthey JN, Abdalla EK, Doherty DA, Gertsch P, Fenstermacher MJ, Loyer EM, et al.",
        "Body surface area and body weight predict total liver volume in Western adults",
        "Liver Transpl 8(3):233-240",
        2002,
        "10.1053/jlts.2002.31654",
        "TLV = -794.41 + 1267.28 x BSA; TLV = 191.80 + 18.51 x weight (kg).",
    ),
    Reference(
        "shindoh2013",
        "Shindoh J, Truty MJ, Aloia TA, Curley SA, Zimmitti G, Huang SY, et al.",
        "Kinetic growth rate after portal vein embolization predicts posthepatectomy outcomes: "
        "toward zero liver-related mortality in patients with colorectal liver metastases and "
        "small future liver remnant",
        "J Am Coll Surg 216:201-209",
        2013,
        "10.1016/j.jamcollsurg.2012.10.018",
        "KGR < 2.0 %/week: hepatic insufficiency 21.6 % vs 0 %.",
    ),
    Reference(
        "leung2014",
        "Leung U, Simpson AL, Araujo RL, Gönen M, McAuliffe C, Miga MI, et al.",
        "Remnant growth rate after portal vein embolization is a good early predictor of "
        "post-hepatectomy liver failure",
        "J Am Coll Surg 219:620-630",
        2014,
        "10.1016/j.jamcollsurg.2014.04.022",
        "Quoted by AHPBA guideline 2025 with a threshold of 2.66 %/week.",
    ),
    # --- classifications ----------------------------------------------------------------------
    Reference(
        "kawaguchi2020_complexity",
        "Kawaguchi Y, Hasegawa K, Tzeng CD, et al.",
        "Performance of a modified three-level classification in stratifying open liver "
        "resection procedures in terms of complexity and postoperative morbidity",
        "Br J Surg 107(3):258-267",
        2020,
        "10.1002/bjs.11351",
    ),
    Reference(
        "dindo2004",
        "Dindo D, Demartines N, Clavien PA",
        "Classification of surgical complications: a new proposal with evaluation in a cohort "
        "of 6336 patients and results of a survey",
        "Ann Surg 240(2):205-213",
        2004,
        "10.1097/01.sla.0000133083.54934.ae",
    ),
    Reference(
        "rahbari2011",
        "Rahbari NN, Garden OJ, Padbury R, et al.",
        "Posthepatectomy liver failure: a definition and grading by the International Study "
        "Group of Liver Surgery (ISGLS)",
        "Surgery 149(5):713-724",
        2011,
        "10.1016/j.surg.2010.10.001",
    ),
    Reference(
        "balzan2005",
        "Balzan S, Belghiti J, Farges O, Ogata S, Sauvanet A, Delefosse D, Durand F",
        "The '50-50 criteria' on postoperative day 5: an accurate predictor of liver failure "
        "and death after hepatectomy",
        "Ann Surg 242(6):824-828",
        2005,
        "10.1097/01.sla.0000189131.90876.9e",
    ),
    Reference(
        "strasberg2000",
        "Strasberg SM, Belghiti J, Clavien PA, et al.",
        "The Brisbane 2000 terminology of liver anatomy and resections",
        "HPB 2(3):333-339",
        2000,
        None,
        "Major hepatectomy = resection of three or more contiguous segments.",
    ),
    # --- therapy ------------------------------------------------------------------------------
    Reference(
        "nordlinger2013",
        "Nordlinger B, Sorbye H, Glimelius B, Poston GJ, Schlag PM, Rougier P, et al.",
        "Perioperative FOLFOX4 chemotherapy and surgery versus surgery alone for resectable "
        "liver metastases from colorectal cancer (EORTC 40983): long-term results of a "
        "randomised, controlled, phase 3 trial",
        "Lancet Oncol 14:1208-1215",
        2013,
        "10.1016/S1470-2045(13)70447-9",
    ),
    Reference(
        "adams2013",
        "Adams RB, Aloia TA, Loyer E, Pawlik TM, Taouli B, Vauthey JN, et al.",
        "Selection for hepatic resection of colorectal liver metastases: expert consensus "
        "statement",
        "HPB 15:91-103",
        2013,
        "10.1111/j.1477-2574.2012.00557.x",
    ),
    # --- decision rules (crlm.clinical.rules) -------------------------------------------------
    Reference(
        "shubert2015",
        "Shubert CR, Habermann EB, Bergquist JR, et al.",
        "A NSQIP review of major morbidity and mortality of synchronous liver resection for "
        "colorectal metastasis stratified by extent of liver resection and type of colorectal "
        "resection",
        "J Gastrointest Surg 19(11):1982-1994",
        2015,
        "10.1007/s11605-015-2895-z",
        "Maki 2023a ref. 7: low anterior resection with diversion and abdominoperineal resection "
        "are high-risk colorectal resections (~20 % major complications).",
    ),
    Reference(
        "kishi2010",
        "Kishi Y, Zorzi D, Contreras CM, Maru DM, Kopetz S, Ribero D, et al.",
        "Extended preoperative chemotherapy does not improve pathologic response and increases "
        "postoperative liver insufficiency after hepatic resection for colorectal liver "
        "metastases",
        "Ann Surg Oncol 17(11):2870-2876",
        2010,
        None,
        "Maki 2023b ref. 3.",
    ),
    Reference(
        "shindoh2013_chemo",
        "Shindoh J, Tzeng CW, Aloia TA, Curley SA, Zimmitti G, Wei SH, et al.",
        "Optimal future liver remnant in patients treated with extensive preoperative "
        "chemotherapy for colorectal liver metastases",
        "Ann Surg Oncol 20(8):2493-2500",
        2013,
        None,
        "Maki 2023b ref. 4; FLR >= 30 % after extensive (> 12 weeks) chemotherapy (CLINICAL_SPEC).",
    ),
    Reference(
        "mise2016",
        "Mise Y, Aloia TA, Brudvik KW, Schwarz L, Vauthey JN, Conrad C",
        "Parenchymal-sparing hepatectomy in colorectal liver metastasis improves salvageability "
        "and survival",
        "Ann Surg 263(1):146-152",
        2016,
        None,
        "Maki 2023b ref. 13: solitary CLM < 30 mm; repeat hepatectomy for recurrence 68 % vs 24 %.",
    ),
    Reference(
        "passot2016_fiducial",
        "Passot G, Odisio BC, Zorzi D, Mahvash A, Gupta S, Wallace MJ, et al.",
        "Eradication of missing liver metastases after fiducial placement",
        "J Gastrointest Surg 20(6):1173-1178",
        2016,
        None,
        "Maki 2023b ref. 14.",
    ),
    Reference(
        "odisio2017_ablation",
        "Odisio BC, Yamashita S, Huang SY, Harmoush S, Kopetz SE, Ahrar K, et al.",
        "Local tumour progression after percutaneous ablation of colorectal liver metastases "
        "according to RAS mutation status",
        "Br J Surg 104(6):760-768",
        2017,
        None,
        "Maki 2023b ref. 17: margin < 5 mm HR 2.48; RAS alteration HR 3.01 for local tumour PFS.",
    ),
    Reference(
        "okuno2021_completion",
        "Okuno M, Kawaguchi Y, De Bellis M, Vega EA, Huang SY, Ahrar K, et al.",
        "A new sequential treatment strategy for multiple colorectal liver metastases: planned "
        "incomplete resection and postoperative completion ablation for intentionally-untreated "
        "tumors under guidance of cross-sectional imaging",
        "Eur J Surg Oncol 47(2):311-316",
        2021,
        None,
        "Maki 2023b ref. 20.",
    ),
    Reference(
        "mizuno2018_tsh",
        "Mizuno T, Cloyd JM, Omichi K, Chun YS, Conrad C, Tzeng CD, et al.",
        "Two-stage hepatectomy vs one-stage major hepatectomy with contralateral resection or "
        "ablation for advanced bilobar colorectal liver metastases",
        "J Am Coll Surg 226(5):825-834",
        2018,
        None,
        "Maki 2023b ref. 23: 5-y OS 24 % vs 35 %, major morbidity 32 % vs 14 %, hepatic "
        "insufficiency 28 % vs 6 % (hepatectomy + ablation vs TSH).",
    ),
    Reference(
        "nishioka2021_fasttrack",
        "Nishioka Y, Odisio BC, Velasco JD, Ninan E, Huang SY, Mahvash A, et al.",
        "Fast-track two-stage hepatectomy by concurrent portal vein embolization at first-stage "
        "hepatectomy in hybrid interventional radiology/operating suite",
        "Surg Oncol 39:101648",
        2021,
        None,
        "Maki 2023b ref. 25.",
    ),
    Reference(
        "kawaguchi2020_surveillance",
        "Kawaguchi Y, Kopetz S, Lillemoe HA, Hwang H, Wang X, Tzeng CD, et al.",
        "A new surveillance algorithm after resection of colorectal liver metastases based on "
        "changes in recurrence risk and RAS mutation status",
        "J Natl Compr Canc Netw 18(11):1500-1508",
        2020,
        None,
        "Maki 2023b ref. 41: only RAS alteration predicts recurrence beyond 2 years.",
    ),
    Reference(
        "newhook2022_ctdna",
        "Newhook TE, Overman MJ, Chun YS, Dasari A, Tzeng CD, Cao HST, et al.",
        "Prospective study of perioperative circulating tumor DNA dynamics in patients "
        "undergoing hepatectomy for colorectal liver metastases",
        "Ann Surg 277:813-820",
        2022,
        "10.1097/SLA.0000000000005461",
        "Maki 2023b ref. 43.",
    ),
    Reference(
        "bridgewater2020_new_epoc",
        "Bridgewater JA, Pugh SA, Maishman T, Eminton Z, Mellor J, Whitehead A, et al.",
        "Systemic chemotherapy with or without cetuximab in patients with resectable colorectal "
        "liver metastasis (New EPOC): long-term results of a multicentre, randomised, "
        "controlled, phase 3 trial",
        "Lancet Oncol 21:398-411",
        2020,
        "10.1016/S1470-2045(19)30798-3",
        "AHPBA guideline 2025 ref. 58: median OS 55.4 vs 81.0 months with cetuximab, HR 1.45.",
    ),
    Reference(
        "modest2019_volfi",
        "Modest DP, Martens UM, Riera-Knorrenschild J, Greeve J, Florschütz A, Wessendorf S, "
        "et al.",
        "FOLFOXIRI plus panitumumab as first-line treatment of RAS wild-type metastatic "
        "colorectal cancer: the randomized, open-label, phase II VOLFI study (AIO KRK0109)",
        "J Clin Oncol 37:3401-3411",
        2019,
        "10.1200/JCO.19.01340",
        "AHPBA guideline 2025 ref. 59: conversion to resectability 33 % vs 12 %.",
    ),
    Reference(
        "tejpar2017_sidedness",
        "Tejpar S, Stintzing S, Ciardiello F, Tabernero J, Van Cutsem E, Beier F, et al.",
        "Prognostic and predictive relevance of primary tumor location in patients with RAS "
        "wild-type metastatic colorectal cancer: retrospective analyses of the CRYSTAL and "
        "FIRE-3 trials",
        "JAMA Oncol 3:194-201",
        2017,
        "10.1001/jamaoncol.2016.3797",
        "AHPBA guideline 2025 ref. 62.",
    ),
    Reference(
        "pietrantonio2015_braf",
        "Pietrantonio F, Petrelli F, Coinu A, Di Bartolomeo M, Borgonovo K, Maggi C, et al.",
        "Predictive role of BRAF mutations in patients with advanced colorectal cancer "
        "receiving cetuximab and panitumumab: a meta-analysis",
        "Eur J Cancer 51:587-594",
        2015,
        "10.1016/j.ejca.2015.01.054",
        "AHPBA guideline 2025 ref. 63.",
    ),
    Reference(
        "andre2020_keynote177",
        "André T, Shiu KK, Kim TW, Jensen BV, Jensen LH, Punt C, et al.",
        "Pembrolizumab in microsatellite-instability-high advanced colorectal cancer",
        "N Engl J Med 383:2207-2218",
        2020,
        "10.1056/NEJMoa2017699",
        "AHPBA guideline 2025 ref. 56 (KEYNOTE-177).",
    ),
    Reference(
        "sartore_bianchi2016_heracles",
        "Sartore-Bianchi A, Trusolino L, Martino C, Bencardino K, Lonardi S, Bergamo F, et al.",
        "Dual-targeted therapy with trastuzumab and lapatinib in treatment-refractory, KRAS "
        "codon 12/13 wild-type, HER2-positive metastatic colorectal cancer (HERACLES): a "
        "proof-of-concept, multicentre, open-label, phase 2 trial",
        "Lancet Oncol 17:738-746",
        2016,
        None,
        "AHPBA guideline 2025 ref. 132.",
    ),
    Reference(
        "pak2018_hai",
        "Pak LM, Kemeny NE, Capanu M, Chou JF, Boucher T, Cercek A, et al.",
        "Prospective phase II trial of combination hepatic artery infusion and systemic "
        "chemotherapy for unresectable colorectal liver metastases: long term results and "
        "curative potential",
        "J Surg Oncol 117:634-643",
        2018,
        "10.1002/jso.24898",
        "AHPBA guideline 2025 ref. 89: 52 % converted to resection.",
    ),
    Reference(
        "groot_koerkamp2017_hai",
        "Groot Koerkamp B, Sadot E, Kemeny NE, Gönen M, Leal JN, Allen PJ, et al.",
        "Perioperative hepatic arterial infusion pump chemotherapy is associated with longer "
        "survival after resection of colorectal liver metastases: a propensity score analysis",
        "J Clin Oncol 35:1938-1944",
        2017,
        "10.1200/JCO.2016.71.8346",
        "AHPBA guideline 2025 ref. 77: no benefit with extrahepatic disease, positive margin or "
        "worse CRS.",
    ),
    Reference(
        "hagness2013_seca1",
        "Hagness M, Foss A, Line PD, Scholz T, Jørgensen PF, Fosby B, et al.",
        "Liver transplantation for nonresectable liver metastases from colorectal cancer",
        "Ann Surg 257:800-806",
        2013,
        "10.1097/SLA.0b013e3182823957",
        "AHPBA guideline 2025 ref. 98 (SECA-I).",
    ),
    Reference(
        "dueland2020_seca2",
        "Dueland S, Syversveen T, Solheim JM, Solberg S, Grut H, Bjørnbeth BA, et al.",
        "Survival following liver transplantation for patients with nonresectable liver-only "
        "colorectal metastases",
        "Ann Surg 271:212-218",
        2020,
        "10.1097/SLA.0000000000003404",
        "AHPBA guideline 2025 ref. 99 (SECA-II).",
    ),
    Reference(
        "hernandez_alejandro2022",
        "Hernandez-Alejandro R, Ruffolo LI, Sasaki K, Tomiyama K, Orloff MS, Pineda-Solis K, "
        "et al.",
        "Recipient and donor outcomes after living-donor liver transplant for unresectable "
        "colorectal liver metastases",
        "JAMA Surg 157:524-530",
        2022,
        None,
        "AHPBA guideline 2025 ref. 100: 10 of 91 patients assessed, selected with stable "
        "disease on systemic therapy; 100 % OS and 62 % recurrence-free survival at 1.5 years.",
    ),
    Reference(
        "moulton2014_pet",
        "Moulton CA, Gu CS, Law CH, Tandan VR, Hart R, Quan D, et al.",
        "Effect of PET before liver resection on surgical management for colorectal "
        "adenocarcinoma metastases: a randomized clinical trial",
        "JAMA 311:1863-1869",
        2014,
        "10.1001/jama.2014.3740",
        "AHPBA guideline 2025 ref. 21.",
    ),
)


def resolve(key: str) -> Reference:
    """The reference for an evidence key; ``KeyError`` names the unknown key."""
    try:
        return BIBLIOGRAPHY[key]
    except KeyError:
        raise KeyError(f"unknown evidence key: {key!r}") from None


def cite(*keys: str) -> list[str]:
    """Validate evidence keys and return them as a list (use at rule definition time)."""
    for k in keys:
        resolve(k)
    return list(keys)


__all__ = ["BIBLIOGRAPHY", "Reference", "cite", "resolve"]
