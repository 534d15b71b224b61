import pytest

from rooflinekit.errors import UnitError
from rooflinekit.units import parse_quantity


@pytest.mark.parametrize(
    ("text", "dimension", "expected"),
    [
        ("19.2 GB/s", "bytes_per_s", 19.2e9),
        ("19.2GBps", "bytes_per_s", 19.2e9),
        ("4 TOPS", "ops_per_s", 4e12),
        ("0.192 TOP/s", "ops_per_s", 0.192e12),
        ("1 GMAC/s", "ops_per_s", 2e9),  # 1 MAC = 2 ops
        ("26 TFLOPS", "ops_per_s", 26e12),  # datasheet spellings of an op rate
        ("26 TFLOP/s", "ops_per_s", 26e12),
        ("19.5 tflops", "ops_per_s", 19.5e12),
        ("1.5 PFLOPS", "ops_per_s", 1.5e15),
        ("4.1 GFLOPs", "ops", 4.1e9),  # a count of ops, as 'OP'
        ("512 KiB", "bytes", 524288),
        ("2 GB", "bytes", 2e9),
        ("216 MHz", "hz", 216e6),
        ("15 W", "w", 15.0),
        ("350 mW", "w", 0.35),
        (1.5e9, "hz", 1.5e9),
    ],
)
def test_parse_quantity(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected)


def test_unknown_unit_is_named():
    with pytest.raises(UnitError, match=r"unknown unit 'furlongs'"):
        parse_quantity("3 furlongs", "bytes")


def test_wrong_dimension_is_named():
    with pytest.raises(UnitError, match=r"'4 TOPS' is in ops_per_s, expected bytes"):
        parse_quantity("4 TOPS", "bytes")


def test_unparsable_quantity():
    with pytest.raises(UnitError, match=r"cannot parse 'fast' as a quantity of hz"):
        parse_quantity("fast", "hz")


def test_non_finite_quantity():
    with pytest.raises(UnitError, match=r"not a finite quantity"):
        parse_quantity(float("inf"), "w")


def test_bool_is_not_a_quantity():
    with pytest.raises(UnitError, match=r"expected a number or a string with a unit"):
        parse_quantity(True, "w")


def test_flops_count_is_not_a_rate():
    with pytest.raises(UnitError, match=r"'26 TFLOPs' is in ops, expected ops_per_s"):
        parse_quantity("26 TFLOPs", "ops_per_s")
