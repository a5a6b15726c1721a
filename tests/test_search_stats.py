"""Intervals and the sign test against hand-computed values."""

from __future__ import annotations

import math

import pytest

from search.studies.stats import sign_test, summarize, t_quantile_975


def test_interval_of_identical_values_has_zero_width():
    s = summarize([0.8, 0.8, 0.8])
    assert s.mean == pytest.approx(0.8) and s.std == 0.0
    assert s.low == pytest.approx(0.8) and s.high == pytest.approx(0.8)


def test_interval_by_hand():
    # mean 2, sample std 1, n = 3: half width = t(0.975, 2) / sqrt(3) = 4.302653 / 1.732 = 2.48414
    s = summarize([1.0, 2.0, 3.0])
    assert s.mean == 2.0 and s.std == pytest.approx(1.0)
    assert s.high - s.mean == pytest.approx(4.302653 / math.sqrt(3), abs=1e-5)
    assert s.low == pytest.approx(2.0 - 2.48414, abs=1e-4)


def test_single_value_and_overlap():
    assert summarize([0.5]).low == summarize([0.5]).high == 0.5
    assert summarize([1.0, 2.0, 3.0]).overlaps(summarize([4.0, 4.2]))
    assert not summarize([0.5, 0.5]).overlaps(summarize([0.6, 0.6]))
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, math.nan])


def test_t_quantiles_table_and_large_df():
    assert t_quantile_975(1) == pytest.approx(12.706, abs=1e-3)  # published table values
    assert t_quantile_975(30) == pytest.approx(2.042, abs=1e-3)
    assert t_quantile_975(60) == pytest.approx(2.0003, abs=1e-3)  # published 2.000
    assert t_quantile_975(120) == pytest.approx(1.9799, abs=1e-3)  # published 1.980


def test_sign_test_by_hand():
    # 9 better, 0 worse: p = 1/512
    t = sign_test([1.0] * 9, [0.0] * 9)
    assert (t.better, t.equal, t.worse) == (9, 0, 0) and t.p_value == pytest.approx(1 / 512)
    # 5 better, 1 equal, 2 worse: n = 7, P(X >= 5) = (21 + 7 + 1) / 128
    ours = [2, 2, 2, 2, 2, 1, 0, 0]
    theirs = [1, 1, 1, 1, 1, 1, 1, 1]
    t = sign_test(ours, theirs)
    assert (t.better, t.equal, t.worse) == (5, 1, 2)
    assert t.p_value == pytest.approx(29 / 128)
    # all ties: nothing to test
    assert sign_test([1.0, 1.0], [1.0, 1.0]).p_value == 1.0
    # within tolerance counts as equal
    assert sign_test([1.001], [1.0], tolerance=0.01).equal == 1
    with pytest.raises(ValueError):
        sign_test([1.0], [1.0, 2.0])
