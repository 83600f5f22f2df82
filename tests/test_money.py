from decimal import Decimal

import pytest

from dashboard.money import from_micros, to_micros


def test_it_round_trips_money_exactly():
    for text in ["0", "0.1", "0.000001", "123456.789", "-3.5"]:
        assert from_micros(to_micros(Decimal(text))) == Decimal(text)


@pytest.mark.parametrize("value", [0.1, "abc", "NaN", "Infinity", True, "0.0000001"])
def test_it_refuses_what_is_not_exact_money(value):
    with pytest.raises(ValueError):
        to_micros(value)
