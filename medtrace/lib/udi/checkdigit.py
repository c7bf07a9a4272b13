"""Check digits and check characters: GS1 mod-10, GS1 alphanumeric pairs, HIBC mod-43.

All three algorithms are written here from their standards (GS1 General Specifications §7.9.1
and §7.9.5; ANSI/HIBC 2.x "Check character calculation") rather than taken from a library, so
the rules the app applies at run time are our own and are tested against the conformance vectors.
"""

from __future__ import annotations

from .errors import UdiError

# GS1 General Specifications, figure 7.9.5-1: CSET 82 in the order of its character values.
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# Check characters of the alphanumeric check pair come from CSET 32, in value order.
CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CSUMALPHA_MAX_DATA = 97  # one prime weight per data character; the longest AI field is 99

# ANSI/HIBC: the 43 characters of Code 39 in the order of their mod-43 values.
HIBC_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-. $/+%"
_HIBC_VALUE = {char: value for value, char in enumerate(HIBC_CHARSET)}

# Company-prefix-bearing keys and the lengths they may take; used by the key validators.
GTIN_LENGTHS = (8, 12, 13, 14)


def _first_primes(count: int) -> tuple[int, ...]:
    primes: list[int] = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return tuple(primes)


_PRIMES = _first_primes(_CSUMALPHA_MAX_DATA)


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit for the digits of any GS1 key without its check digit.

    Weights 3 and 1 alternate from the rightmost digit (GS1 General Specifications §7.9.1), so the
    same function serves GTIN-8/12/13/14, GLN, SSCC, GSRN, GDTI, GCN and GSIN bodies.
    """
    if not body or not body.isascii() or not body.isdigit():
        raise UdiError(f"a GS1 check digit needs a string of digits, got {body!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def is_valid_gs1_check_digit(key: str) -> bool:
    """Whether the last digit of ``key`` is the correct GS1 mod-10 check digit of the rest."""
    if len(key) < 2 or not key.isascii() or not key.isdigit():
        return False
    return gs1_check_digit(key[:-1]) == key[-1]


def check_digit_error(key: str, *, name: str) -> str | None:
    """A message such as "GTIN check digit should be 3, got 4", or None when it is right."""
    expected = gs1_check_digit(key[:-1])
    if expected == key[-1]:
        return None
    return f"{name} check digit should be {expected}, got {key[-1]}"


def normalize_gtin(text: str) -> str:
    """Validate a GTIN-8, -12, -13 or -14 and return it as 14 digits (left-padded with zeros).

    Raises UdiError naming the problem: wrong length, a non-digit, or the wrong check digit.
    """
    value = text.strip() if isinstance(text, str) else text
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise UdiError(f"a GTIN has only digits, got {text!r}", field="gtin")
    if len(value) not in GTIN_LENGTHS:
        raise UdiError(f"a GTIN has 8, 12, 13 or 14 digits, got {len(value)}", field="gtin")
    error = check_digit_error(value, name="GTIN")
    if error:
        raise UdiError(error, field="gtin")
    return value.zfill(14)


def validate_gln(text: str) -> str:
    """Validate a 13-digit GLN and return it; raises UdiError when it is not one."""
    value = text.strip() if isinstance(text, str) else text
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise UdiError(f"a GLN has only digits, got {text!r}", field="gln")
    if len(value) != 13:
        raise UdiError(f"a GLN has 13 digits, got {len(value)}", field="gln")
    error = check_digit_error(value, name="GLN")
    if error:
        raise UdiError(error, field="gln")
    return value


def validate_sscc(text: str) -> str:
    """Validate an 18-digit SSCC and return it; raises UdiError when it is not one."""
    value = text.strip() if isinstance(text, str) else text
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise UdiError(f"an SSCC has only digits, got {text!r}", field="sscc")
    if len(value) != 18:
        raise UdiError(f"an SSCC has 18 digits, got {len(value)}", field="sscc")
    error = check_digit_error(value, name="SSCC")
    if error:
        raise UdiError(error, field="sscc")
    return value


def gs1_check_pair(body: str) -> str:
    """The two GS1 alphanumeric check characters for ``body`` (CSET 82), GenSpecs §7.9.5.

    Each character's CSET 82 value is weighted by a prime (2, 3, 5 ... from the right), the sum is
    taken modulo 1021, and its 10 bits split into two 5-bit CSET 32 characters.
    """
    if len(body) > _CSUMALPHA_MAX_DATA:
        raise UdiError(f"check pair data is limited to {_CSUMALPHA_MAX_DATA} characters")
    total = 0
    for char, prime in zip(reversed(body), _PRIMES, strict=False):
        value = CSET82.find(char)
        if value < 0:
            raise UdiError(f"character {char!r} is not in CSET 82")
        total += value * prime
    total %= 1021
    return CSET32[total >> 5] + CSET32[total & 31]


def hibc_check_char(data: str) -> str:
    """The HIBC mod-43 check character for ``data`` (everything before it, including ``+``).

    The sum of the characters' values in the Code 39 table, modulo 43, indexes the same table.
    """
    total = 0
    for position, char in enumerate(data, start=1):
        value = _HIBC_VALUE.get(char)
        if value is None:
            raise UdiError(
                f"character {char!r} at position {position} is not allowed in HIBC data "
                f"(only 0-9, A-Z, '-', '.', ' ', '$', '/', '+' and '%')",
                field="hibc",
            )
        total += value
    return HIBC_CHARSET[total % 43]
