"""One number format for learned β wherever a reader prints it (issue 22, item 9):
the report printed ``1 [0.829, 1.2]`` beside ``1.01 [0.784, 1.23]`` and the plot
``β = 1 (learned)``."""

from __future__ import annotations

import math

import pytest

from search.inspect.formats import BETA_DIGITS, beta_fmt


@pytest.mark.parametrize("value, text", [
    (1.0, "1.00"), (0.829, "0.829"), (1.2, "1.20"), (1.0123, "1.01"), (12.0, "12.0"),
    (123.0, "123"), (1234.5, "1.23e+03"), (-0.5, "-0.500"), (0.0, "0.00")])
def test_beta_has_fixed_significant_digits(value: float, text: str):
    assert beta_fmt(value) == text
    digits = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0") or "000"
    assert len(digits) == BETA_DIGITS


def test_beta_non_finite_is_named():
    assert beta_fmt(math.nan) == "nan" and beta_fmt(-math.inf) == "-inf"


def test_the_report_column_uses_it():
    from search.inspect.html_report import beta_text
    from search.inspect.run_summary import Spread

    class Row:
        beta = Spread(8, 1.0, 0.829, 1.2)

    assert beta_text(Row()) == "1.00 [0.829, 1.20]"
