"""Hardware grids over thermal design power: a ``tdp_w`` axis, so that throughput per watt can be explored across
power budgets. Expected values are derived by hand in the comments."""

import json
import warnings

import numpy as np
import pytest
import yaml

import rooflinekit as rk
from conftest import full_cli
from rooflinekit import HardwareSpec
from rooflinekit.catalog import load_hardware_file
from rooflinekit.descriptors import DType, Layer, LayerNetwork
from rooflinekit.errors import RooflineWarning, SpecError
from rooflinekit.roofline import HardwareGrid

# one level holding everything: no capacity or placement effect, only the peak and the bandwidth
ACCEL = HardwareSpec(
    name="tdp-npu", kind="NPU", source="test", peak_ops_per_s={"int8": 1e12}, tdp_w=10, clock_hz=1e9,
    memories=[{"name": "DRAM", "capacity_bytes": 1e9, "bandwidth_bytes_per_s": 1e12,
               "stores": ["weights", "activations"], "source": "test"}],
)
# one fully connected layer, 1000 -> 1000 at int8: 2 x 1e6 ops, 1e6 weight bytes
FC = LayerNetwork(name="fc", source="test", precision="int8", layers=(
    Layer(name="fc", op="fully_connected", inputs=((1, 1000),), outputs=((1, 1000),), weights=[(1000, 1000)]),))


def test_tdp_axis_values_order_and_points():
    grid = HardwareGrid.of(ACCEL, peak_ops_per_s={"int8": [1e12, 2e12]}, clock_scale=[1.0, 0.5],
                           tdp_w=(5.0, 20.0, "log", 3))
    assert list(grid.axes) == ["peak_ops_per_s.int8", "clock_scale", "tdp_w"]  # TDP last: it varies fastest
    assert grid.shape == (2, 2, 3) and grid.size == 12
    tdp = grid.axes["tdp_w"]
    assert tdp[0] == 5.0 and tdp[-1] == 20.0  # the ends exactly as given
    assert tdp[1] == pytest.approx(10.0, rel=1e-12)  # 5 x 2 x 2 = 20: the middle of the log range is 10
    # point 7 = (1, 0, 1): int8 peak 2e12 at full clock, 10 W
    spec = grid.spec(7)
    assert spec.name == "tdp-npu[7]" and spec.tdp_w == pytest.approx(10.0, rel=1e-12)
    assert spec.peak_ops_per_s[DType.INT8] == 2e12 and spec.clock_hz == 1e9
    # point 5 = (0, 1, 2): half clock, 20 W; the clock scales the peak and clock_hz, not the TDP
    spec = grid.spec(5)
    assert (spec.tdp_w, spec.peak_ops_per_s[DType.INT8], spec.clock_hz) == (20.0, 0.5e12, 0.5e9)
    assert HardwareGrid.of(ACCEL, tdp_w=(5.0, 20.0, "lin", 4)).axes["tdp_w"].tolist() == [5.0, 10.0, 15.0, 20.0]


def test_a_grid_without_a_tdp_axis_keeps_the_templates():
    grid = HardwareGrid.of(ACCEL, clock_scale=[1.0, 2.0])
    assert "tdp_w" not in grid.axes
    assert [grid.spec(i).tdp_w for i in range(2)] == [10.0, 10.0]
    unpowered = HardwareGrid.of(ACCEL.model_copy(update={"tdp_w": None}), tdp_w=[3.0])
    assert unpowered.spec(0).tdp_w == 3.0  # the axis gives a template without a TDP one


@pytest.mark.parametrize("values, message", [
    ([10.0, 0.0], r"^grid axis tdp_w: values must be finite and positive, got array\(\[0\.\]\)$"),
    ([-5.0], r"^grid axis tdp_w: values must be finite and positive, got array\(\[-5\.\]\)$"),
    ([10.0, None], r"^grid axis tdp_w: values must be finite and positive, got array\(\[nan\]\)$"),
    ([10.0, float("inf")], r"^grid axis tdp_w: values must be finite, got"),
    ([], r"^grid axis tdp_w has no values; give at least one$"),
    ("15 W", r"^grid axis tdp_w: values must be numbers"),
    ([[5.0, 10.0]], r"^grid axis tdp_w: values must be one flat list of numbers"),
    ((0.0, 10.0, "log", 3), r"^grid axis tdp_w: a log range needs positive ends"),
    ((0.0, 10.0, "lin", 3), r"^grid axis tdp_w: values must be finite and positive"),
    ((None, 10.0, "lin", 2), r"^grid axis tdp_w: range ends must be plain numbers in SI units \(.*W\)"),
])
def test_bad_tdp_values_name_the_axis(values, message):
    with pytest.raises(SpecError, match=message):
        HardwareGrid.of(ACCEL, tdp_w=values)


def test_a_tdp_below_the_idle_power_is_refused():
    idling = ACCEL.model_copy(update={"idle_power_w": 4.0})
    with pytest.raises(SpecError, match=r"^tdp-npu: grid axis tdp_w goes down to 3 W, below the template's "
                                        r"idle_power_w of 4 W; start the axis at 4 W or more"):
        HardwareGrid.of(idling, tdp_w=[3.0, 10.0])
    assert HardwareGrid.of(idling, tdp_w=[4.0, 10.0]).spec(0).tdp_w == 4.0  # the idle power itself is a TDP


def test_sweep_has_a_tdp_column_for_throughput_per_watt():
    # compute 2e6 ops / peak; memory 1e6 + 2e3 bytes / 1e12 B/s = 1.002e-6 s
    #   peak 1e12: compute 2e-6 s > memory: fps = 5e5
    #   peak 4e12: compute 5e-7 s < memory: fps = 1 / 1.002e-6 = 998,003.99...
    grid = HardwareGrid.of(ACCEL, peak_ops_per_s={"int8": [1e12, 4e12]}, tdp_w=[5.0, 20.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RooflineWarning)  # a TDP axis is no inert axis: nothing to warn of
        table = rk.sweep([FC], [grid], batches=[1], traffic="weights_and_activations")
    assert table.grid_point.tolist() == [0, 1, 2, 3]
    assert table["tdp_w"].tolist() == [5.0, 20.0, 5.0, 20.0]
    expected_fps = [5e5, 5e5, 1 / 1.002e-6, 1 / 1.002e-6]  # the TDP changes no roofline number
    assert table.fps.tolist() == pytest.approx(expected_fps, rel=1e-12)
    fps_per_w = (table.fps / table.tdp_w).tolist()
    assert fps_per_w == pytest.approx([1e5, 2.5e4, 1 / 1.002e-6 / 5, 1 / 1.002e-6 / 20], rel=1e-12)
    assert int(np.argmax(fps_per_w)) == 2  # the faster peak at the lower power budget


def test_a_points_spec_round_trips_through_yaml_with_its_tdp(tmp_path, capsys):
    grid = HardwareGrid.of(ACCEL, peak_ops_per_s={"int8": [1e12, 4e12]}, tdp_w=[5.0, 20.0])
    row = rk.sweep([FC], [grid], batches=[1]).iloc[3]  # 4e12 ops/s at 20 W
    spec = grid.spec(3)
    path = tmp_path / "point.yaml"
    path.write_text(yaml.safe_dump({"hardware": [spec.model_dump(mode="json")]}))
    loaded = load_hardware_file(path)[0]
    assert loaded == spec and loaded.tdp_w == 20.0
    assert rk.predict(FC, loaded).fps == pytest.approx(row.fps, rel=1e-12)
    # the command line's fps per watt on the point: fps / 20 W
    code, out, _ = full_cli(capsys, ["predict", "LeNet-MNIST", "--hardware", str(path), "--precision", "int8",
                                     "--format", "json"])
    payload = json.loads(out)
    assert code == 0 and payload["fps_per_w"] == pytest.approx(payload["fps"] / 20.0, rel=1e-12)
    # a grid of the loaded spec: the axis starts from the round-tripped template
    assert HardwareGrid.of(loaded, tdp_w=[7.5]).spec(0).tdp_w == 7.5
