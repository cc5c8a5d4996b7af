"""The analysis CSV reader (pyarrow when installed) gives pandas.read_csv's frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crlm import csv_input

FIXTURES = Path(__file__).resolve().parent / "fixtures"

EDGE_CASES = {
    "missing_markers": "a,b,c\n1,x,2.5\nNA,,n/a\n3,\"NA\",NULL\n4,y,nan\n",
    "quoted_text": 'name,n\n"Smith, J",1\n"say ""hi""",2\nplain,3\n',
    "factor_columns": "rx,sex,ok,grade\nObs,1,True,G1\nLev,0,false,G2\nLev+5FU,1,TRUE,\n",
    "booleans_with_missing": "flag,x\nTrue,1\n,2\nFalse,3\n",
    "dates_stay_text": "id,d,t\n1,2024-03-01,2024-03-01 10:00\n2,2023-12-31,2023-01-02T03:04\n",
    "all_empty_column": "a,b\n1,\n2,\n",
    "integers_with_missing": "a,b\n1,2\n,3\n4,\n",
    "duplicate_names": "a,a,b\n1,2,3\n",
    "quoted_line_break": 'a,b\n"one\ntwo",1\n',
    "utf8_bom_and_accents": "\ufeffnom,âge\nRené,61\nZoë,55\n",
    "unnamed_column": ",a\n0,1\n1,2\n",
    "floats": "x\n0.1\n1e-5\n-3.25\n1.7976931348623157e308\n",
}


def _check_same(path: Path) -> None:
    got = csv_input.read_frame(path)
    want = pd.read_csv(path)
    assert list(got.columns) == list(want.columns)
    for name in want.columns:
        g, w = got[name], want[name]
        assert g.dtype == w.dtype, name
        if w.dtype == object:
            assert [None if pd.isna(v) else v for v in g] == \
                   [None if pd.isna(v) else v for v in w], name
            assert not any(v is None for v in g), name  # NaN, not None
        else:
            np.testing.assert_array_equal(g.to_numpy(), w.to_numpy(), err_msg=name)


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_read_as_pandas_reads_them(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.csv"
    path.write_text(EDGE_CASES[case], encoding="utf-8")
    _check_same(path)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.csv")))
def test_fixtures_read_as_pandas_reads_them(name: str) -> None:
    _check_same(FIXTURES / name)


def test_pyarrow_reads_the_plain_files() -> None:
    pytest.importorskip("pyarrow")
    assert csv_input._arrow_table(FIXTURES / "heart.csv") is not None


def test_unreadable_files_raise_pandas_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(pd.errors.EmptyDataError):
        csv_input.read_frame(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,2\n3,4,5,6\n")
    with pytest.raises(pd.errors.ParserError):
        csv_input.read_frame(ragged)


def test_the_analysis_is_imported_while_the_file_is_parsed(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """``import_meanwhile`` imports the named modules and leaves the frame as it was."""
    import sys

    path = tmp_path / "a.csv"
    path.write_text("time,event,age\n5,1,60.5\n7,0,71\n")
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    frame = csv_input.read_frame(path, import_meanwhile=("colorsys",))
    assert "colorsys" in sys.modules
    pd.testing.assert_frame_equal(frame, pd.read_csv(path))
