"""Integer rupiah: basis-point fees rounded half up, exact largest-remainder splits, formatting."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.money import AMOUNT_MAX, BASIS_POINTS, bps_of, format_rupiah, split


@pytest.mark.parametrize(
    ("amount", "bps", "fee"),
    [
        (166_667, 30, 500),  # 0.3% of 166.667 is 500,001: rounds down
        (166_500, 30, 500),  # 499,5: a half rounds up
        (1_500, 30, 5),  # 4,5: half up, not to even (banker's rounding would give 4)
        (2_500, 30, 8),  # 7,5
        (16_667, 30, 50),  # 50,001
        (16_650, 30, 50),  # 49,95
        (1, 5_000, 1),  # 0,5
        (1, 4_999, 0),  # 0,4999
        (3, 5_000, 2),  # 1,5
        (100_000, 70, 700),
        (27_500, 0, 0),
        (0, 70, 0),
        (AMOUNT_MAX, BASIS_POINTS, AMOUNT_MAX),
    ],
)
def test_bps_of_rounds_half_up_to_the_whole_rupiah(amount, bps, fee):
    assert bps_of(amount, bps) == fee
    assert type(bps_of(amount, bps)) is int


@given(amount=st.integers(0, AMOUNT_MAX), bps=st.integers(0, BASIS_POINTS))
def test_bps_of_agrees_with_decimal_round_half_up(amount, bps):
    exact = Decimal(amount) * bps / BASIS_POINTS
    assert bps_of(amount, bps) == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(("amount", "bps"), [(-1, 30), (100, -1)])
def test_bps_of_refuses_negative_amounts_and_rates(amount, bps):
    with pytest.raises(ValueError):
        bps_of(amount, bps)


@given(
    total=st.integers(0, AMOUNT_MAX),
    weights=st.lists(st.integers(0, 10_000), min_size=1, max_size=6).filter(any),
)
def test_split_always_sums_exactly_to_the_total(total, weights):
    parts = split(total, weights)
    assert sum(parts) == total
    assert len(parts) == len(weights)
    weight_sum = sum(weights)
    for part, weight in zip(parts, weights, strict=True):
        assert type(part) is int
        # Each part is its exact share rounded down or up, never further off.
        floor = total * weight // weight_sum
        assert floor <= part <= floor + 1
        if weight == 0:
            assert part == 0


@pytest.mark.parametrize(
    ("total", "weights", "parts"),
    [
        (100, [1, 1, 1], [34, 33, 33]),  # a tie: earlier parts first
        (1, [1, 1], [1, 0]),
        (10, [1, 2, 3], [2, 3, 5]),  # 1,67 / 3,33 / 5: the largest remainder takes the rupiah
        (5, [3, 7], [2, 3]),  # 1,5 / 3,5: equal remainders, the earlier part first
        (7, [0, 1, 1], [0, 4, 3]),
        (2, [1, 1, 3], [1, 0, 1]),  # 0,4 / 0,4 / 1,2: the two 0,4s tie, the earlier wins
        (3, [3_500, 5_000, 1_500], [1, 2, 0]),  # 1,05 / 1,5 / 0,45: remainders 0,5 > 0,45 > 0,05
        (0, [3_500, 5_000, 1_500], [0, 0, 0]),
        (1_000, [3_500, 5_000, 1_500], [350, 500, 150]),
    ],
)
def test_split_gives_left_over_rupiah_to_the_largest_remainders_in_order(total, weights, parts):
    assert split(total, weights) == parts


@pytest.mark.parametrize(
    ("total", "weights"),
    [(-1, [1, 1]), (10, []), (10, [0, 0]), (10, [1, -1])],
)
def test_split_refuses_negative_totals_and_empty_or_bad_weights(total, weights):
    with pytest.raises(ValueError):
        split(total, weights)


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (27_500, "Rp 27.500"),
        (0, "Rp 0"),
        (999, "Rp 999"),
        (1_000, "Rp 1.000"),
        (750_000, "Rp 750.000"),
        (10_000_000, "Rp 10.000.000"),
        (-3_000, "-Rp 3.000"),
        (-1, "-Rp 1"),
        (AMOUNT_MAX, "Rp 1.000.000.000.000"),
    ],
)
def test_format_rupiah_writes_thousands_with_dots(amount, text):
    assert format_rupiah(amount) == text


@pytest.mark.parametrize("not_rupiah", [1.0, 27_500.0, 0.5, True, Decimal("100"), "100"])
def test_money_never_takes_a_float_or_anything_but_an_int(not_rupiah):
    with pytest.raises(TypeError):
        bps_of(not_rupiah, 30)
    with pytest.raises(TypeError):
        bps_of(100_000, not_rupiah)
    with pytest.raises(TypeError):
        split(not_rupiah, [1, 1])
    with pytest.raises(TypeError):
        split(100, [1, not_rupiah])
    with pytest.raises(TypeError):
        format_rupiah(not_rupiah)


@given(amount=st.integers(0, AMOUNT_MAX), bps=st.integers(0, BASIS_POINTS))
def test_money_results_are_always_ints(amount, bps):
    assert type(bps_of(amount, bps)) is int
    assert all(type(part) is int for part in split(amount, [bps, 1]))
