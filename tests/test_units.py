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


@pytest.mark.parametrize("text", ["1.7 MS", "1.7 MSEC", "1.7 MSec"])
def test_a_time_in_capitals_with_m_is_ambiguous_not_megaseconds(text):
    # 'LATENCY_MS' means milliseconds as often as megaseconds: read as 1.7e6 s it was 1e9 times too long
    from rooflinekit.errors import AmbiguousUnitError

    with pytest.raises(AmbiguousUnitError, match="write 'ms' for milliseconds"):
        parse_quantity(text, "s")


@pytest.mark.parametrize(("text", "dimension", "expected"),
                         [("2 Ms", "s", 2e6), ("2 ms", "s", 2e-3), ("2 MHZ", "hz", 2e6), ("2 msec", "s", 2e-3)])
def test_m_before_a_unit_in_its_usual_case_or_a_non_time_unit_keeps_its_prefix(text, dimension, expected):
    assert parse_quantity(text, dimension) == pytest.approx(expected, rel=1e-15)


def test_a_header_stating_an_ambiguous_unit_is_refused_with_the_unit_to_give(tmp_path):
    from rooflinekit.compare.loaders import load_table
    from rooflinekit.errors import RecordError

    table = tmp_path / "runs.csv"
    table.write_text("hardware,network,LATENCY_MS\nZCU104-DPU,ResNet-50,1.7\n")
    with pytest.raises(RecordError, match=r"LATENCY_MS.*reads two ways.*--units latency_s=ms"):
        load_table(table, columns={"LATENCY_MS": "latency_s"})
    read = load_table(table, columns={"LATENCY_MS": "latency_s"}, units={"latency_s": "ms"})
    assert read.records["latency_s"].tolist() == [pytest.approx(1.7e-3, rel=1e-15)]


def test_a_table_in_microseconds_is_converted_with_one_rounding(tmp_path):
    # 181900 us is 0.1819 s: the float nearest 0.1819, as float('0.1819') is; 181900 * 1e-6 rounds twice
    from rooflinekit.compare.loaders import load_table

    table = tmp_path / "runs.csv"
    table.write_text("hardware,network,latency\nZCU104-DPU,ResNet-50,181900\nZCU104-DPU,ResNet-50 80%,7\n")
    read = load_table(table, columns={"latency": "latency_s"}, units={"latency_s": "us"})
    assert read.records["latency_s"].tolist() == [float("0.1819"), float("7e-6")]
