"""The rows of a range run split by as-of date without a copy of the whole frame."""

import pandas as pd

from orchestration.defs.risk.assets import rows_by_date

D1, D2, D3 = pd.Timestamp("2024-03-04"), pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06")


def test_dates_in_order_are_slices_in_order() -> None:
    frame = pd.DataFrame({"calc_date": [D1, D1, D2, D3, D3], "value": [1, 2, 3, 4, 5]})
    groups = [(day, rows["value"].tolist()) for day, rows in rows_by_date(frame)]
    assert groups == [(D1, [1, 2]), (D2, [3]), (D3, [4, 5])]


def test_dates_out_of_order_keep_each_dates_row_order() -> None:
    frame = pd.DataFrame({"calc_date": [D2, D1, D2, D1], "value": [1, 2, 3, 4]})
    groups = [(day, rows["value"].tolist()) for day, rows in rows_by_date(frame)]
    assert groups == [(D1, [2, 4]), (D2, [1, 3])]


def test_no_rows_no_dates() -> None:
    frame = pd.DataFrame({"calc_date": pd.to_datetime([]), "value": []})
    assert list(rows_by_date(frame)) == []
