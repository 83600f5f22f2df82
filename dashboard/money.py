"""Money as exact integers in the database, Decimal in Python.

SQLite has no decimal type: a DecimalField lands in a REAL column and SUM() adds floats.
Storing micro-yuan (10^-6) in a BIGINT keeps every sum exact on SQLite and PostgreSQL.
"""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import models

MONEY_PLACES = 6
_SCALE = 10**MONEY_PLACES
_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)


def to_micros(value) -> int:
    """Decimal/int/str -> integer micro-yuan; raises ValueError on anything inexact or not a number."""
    if isinstance(value, float):
        raise ValueError("money must not be a float")
    if isinstance(value, bool):
        raise ValueError("money must be a number")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {str(value)[:40]!r}") from None
    if not amount.is_finite():
        raise ValueError("not a finite number")
    micros = amount * _SCALE
    if micros != micros.to_integral_value():
        raise ValueError(f"more than {MONEY_PLACES} decimal places")
    return int(micros)


def from_micros(micros: int) -> Decimal:
    return (Decimal(micros) / _SCALE).quantize(_QUANTUM)


class MoneyField(models.BigIntegerField):
    """A Decimal amount in yuan, stored as integer micro-yuan."""

    description = "Money (Decimal, stored as integer micro-units)"

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        # SUM() over an integer column may come back as Decimal on PostgreSQL.
        return from_micros(int(value))

    def to_python(self, value):
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return from_micros(to_micros(value))
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            # Lookups built by the ORM (e.g. Sum) pass already-scaled integers through
            # expressions, never here; a bare int here is yuan.
            return to_micros(Decimal(value))
        return to_micros(value)

    def formfield(self, **kwargs):
        from django import forms

        return forms.DecimalField(decimal_places=MONEY_PLACES, **kwargs)
