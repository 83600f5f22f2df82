"""Phone numbers as support staff type them and as the switch stores them."""

import re

_NOISE = re.compile(r"[\s\-().]")
# Country code 86 written internationally: +86 or 0086 (never a bare 86: too many
# national numbers begin with it).
_CHINA_PREFIX = re.compile(r"^(?:\+86|0086)")


def number_key(raw: str) -> str:
    """The searchable form of a number: spaces, dashes, brackets and dots dropped,
    and a leading +86 / 0086 removed, so `+86 138-0013-8000` finds `13800138000`."""
    return _CHINA_PREFIX.sub("", _NOISE.sub("", raw or ""))
