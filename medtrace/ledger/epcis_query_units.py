"""Unit conversion for the uom-qualified query parameters (EQ_value_KEL, GE_quantity_KGM, ...).

EPCIS 2.0 §8.2.7.1 compares sensor values and quantities across units of the same measurement
type: ``GE_value_KEL=300`` must find a report of 30 CEL (TCR-53 step 26). Every conversion here
is affine with a positive factor (``si = value * factor + offset``), so an inequality survives
conversion and each stored unit becomes one plain SQL comparison.

The codes and factors are UN/ECE Recommendation 20 common codes with their SI definitions,
written here for the units EPCIS sensor data and quantities use in practice.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["UNITS", "compatible_units", "convert"]

# code -> (dimension, factor to the SI unit, offset to the SI unit)
UNITS: dict[str, tuple[str, Decimal, Decimal]] = {
    # temperature, SI kelvin
    "KEL": ("temperature", Decimal(1), Decimal(0)),
    "CEL": ("temperature", Decimal(1), Decimal("273.15")),
    "FAH": ("temperature", Decimal(5) / Decimal(9), Decimal("459.67") * Decimal(5) / Decimal(9)),
    "A48": ("temperature", Decimal(5) / Decimal(9), Decimal(0)),  # degree Rankine
    # mass, SI kilogram
    "KGM": ("mass", Decimal(1), Decimal(0)),
    "GRM": ("mass", Decimal("0.001"), Decimal(0)),
    "MGM": ("mass", Decimal("0.000001"), Decimal(0)),
    "MC": ("mass", Decimal("0.000000001"), Decimal(0)),  # microgram
    "TNE": ("mass", Decimal(1000), Decimal(0)),
    "LBR": ("mass", Decimal("0.45359237"), Decimal(0)),
    "ONZ": ("mass", Decimal("0.028349523125"), Decimal(0)),
    # length, SI metre
    "MTR": ("length", Decimal(1), Decimal(0)),
    "KMT": ("length", Decimal(1000), Decimal(0)),
    "CMT": ("length", Decimal("0.01"), Decimal(0)),
    "MMT": ("length", Decimal("0.001"), Decimal(0)),
    "4H": ("length", Decimal("0.000001"), Decimal(0)),  # micrometre
    "INH": ("length", Decimal("0.0254"), Decimal(0)),
    "FOT": ("length", Decimal("0.3048"), Decimal(0)),
    "YRD": ("length", Decimal("0.9144"), Decimal(0)),
    "SMI": ("length", Decimal("1609.344"), Decimal(0)),
    # volume, SI cubic metre
    "MTQ": ("volume", Decimal(1), Decimal(0)),
    "LTR": ("volume", Decimal("0.001"), Decimal(0)),
    "DMQ": ("volume", Decimal("0.001"), Decimal(0)),
    "MLT": ("volume", Decimal("0.000001"), Decimal(0)),
    "CMQ": ("volume", Decimal("0.000001"), Decimal(0)),
    "GLL": ("volume", Decimal("0.003785411784"), Decimal(0)),  # US gallon
    # pressure, SI pascal
    "PAL": ("pressure", Decimal(1), Decimal(0)),
    "KPA": ("pressure", Decimal(1000), Decimal(0)),
    "MPA": ("pressure", Decimal(1000000), Decimal(0)),
    "BAR": ("pressure", Decimal(100000), Decimal(0)),
    "MBR": ("pressure", Decimal(100), Decimal(0)),
    "ATM": ("pressure", Decimal(101325), Decimal(0)),
    # time, SI second
    "SEC": ("time", Decimal(1), Decimal(0)),
    "MIN": ("time", Decimal(60), Decimal(0)),
    "HUR": ("time", Decimal(3600), Decimal(0)),
    "DAY": ("time", Decimal(86400), Decimal(0)),
    # speed, SI metre per second
    "MTS": ("speed", Decimal(1), Decimal(0)),
    "KMH": ("speed", Decimal(1000) / Decimal(3600), Decimal(0)),
    # energy, SI joule
    "JOU": ("energy", Decimal(1), Decimal(0)),
    "KJO": ("energy", Decimal(1000), Decimal(0)),
    "WHR": ("energy", Decimal(3600), Decimal(0)),
    "KWH": ("energy", Decimal(3600000), Decimal(0)),
    # ratio (relative humidity, volume fraction), SI one
    "P1": ("ratio", Decimal("0.01"), Decimal(0)),  # percent
    "C62": ("ratio", Decimal(1), Decimal(0)),  # one
}


def compatible_units(uom: str) -> list[str]:
    """Every unit a value given in ``uom`` can be compared with (``uom`` itself first)."""
    unit = UNITS.get(uom)
    if unit is None:
        return [uom]
    return [uom, *sorted(code for code, u in UNITS.items() if u[0] == unit[0] and code != uom)]


def convert(value: Decimal, source: str, target: str) -> Decimal:
    """``value`` in unit ``source`` expressed in unit ``target`` (same dimension)."""
    if source == target:
        return value
    s_dim, s_factor, s_offset = UNITS[source]
    t_dim, t_factor, t_offset = UNITS[target]
    if s_dim != t_dim:
        raise ValueError(f"cannot convert {source} ({s_dim}) to {target} ({t_dim})")
    return (value * s_factor + s_offset - t_offset) / t_factor
