"""NAS-Bench-201 networks from architecture strings, checked against hand-derived MACs.

Hand derivation (CIFAR-10, C = 16, N = 5; a conv costs ``C_out H_out W_out C_in k^2`` MACs):

- fixed part (every architecture): stem 3->16 3x3 at 32x32 = 442,368; each reduction block (16->32, then
  32->64) = conv_a ``(HW/4) C_out C_in 9`` 1,179,648 + conv_b ``(HW/4) C_out^2 9`` 2,359,296 + 1x1 shortcut
  131,072 = 3,670,016; FC 64 x 10 = 640. Total 442,368 + 2 x 3,670,016 + 640 = **7,783,040** (the all-``none``
  network; NAS-Bench-201 reports 7.78 M for its smallest CIFAR-10 network).
- one ``nor_conv_3x3`` edge per cell: ``C^2 9 HW`` = 16^2 9 1024 = 32^2 9 256 = 64^2 9 64 = 2,359,296 in every
  stage, times 15 cells = **35,389,440**; a ``nor_conv_1x1`` edge a ninth of it, 3,932,160.
- the ResNet-like cell (two 3x3 convs): 7,783,040 + 2 x 35,389,440 = **78,561,920**; the all-3x3 cell (six):
  7,783,040 + 6 x 35,389,440 = **220,119,680** (NAS-Bench-201's largest CIFAR-10 network, reported as 220.1 M).
- ``avg_pool_3x3`` edge: no MACs; ``9 C HW`` window ops per cell: 5 x (147,456 + 73,728 + 36,864) = 1,290,240.

The ResNet-like cell is sometimes quoted at about 41 MFLOPs; the architecture does not give that under any
convention: its two 3x3 convs per cell alone are 15 x 2 x 2,359,296 = 70.8 M MACs, and one conv per cell would give
7.78 + 35.39 = 43.2 M. NAS-Bench-201's convention (MACs + pooling windows + FC bias) gives 78.59 M.
"""

from __future__ import annotations

import itertools
import time

import pandas as pd
import pytest

from rooflinekit.counters import count_network
from rooflinekit.errors import SpecError
from rooflinekit.networks.nb201 import (NB201_OPS, nb201_execution, nb201_network, nb201_published_flops,
                                        parse_nb201_arch)

FIXED_MACS = 442_368 + 2 * (1_179_648 + 2_359_296 + 131_072) + 640
CONV3_PER_EDGE = 15 * 2_359_296
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def _arch(e10: str = "none", e20: str = "none", e21: str = "none", e30: str = "none", e31: str = "none",
          e32: str = "none") -> str:
    return f"|{e10}~0|+|{e20}~0|{e21}~1|+|{e30}~0|{e31}~1|{e32}~2|"


def _macs(arch: str) -> int:
    return int(count_network(nb201_network(arch)).totals["macs"])


def test_fixed_part_and_single_edge_variants():
    assert FIXED_MACS == 7_783_040
    assert _macs(_arch()) == FIXED_MACS
    for edge in ("e10", "e20", "e21", "e30", "e31", "e32"):
        assert _macs(_arch(**{edge: "nor_conv_3x3"})) == FIXED_MACS + CONV3_PER_EDGE
        assert _macs(_arch(**{edge: "nor_conv_1x1"})) == FIXED_MACS + CONV3_PER_EDGE // 9
        assert _macs(_arch(**{edge: "skip_connect"})) == FIXED_MACS
    pool = count_network(nb201_network(_arch(e32="avg_pool_3x3"))).layers
    cell_pools = pool[pool.name.str.startswith("cells.") & (pool.op == "avg_pool")]
    assert int(cell_pools.other_ops.sum()) == 5 * 9 * (16 * 1024 + 32 * 256 + 64 * 64) == 1_290_240


def test_resnet_and_all_conv_networks():
    assert _macs(RESNET) == FIXED_MACS + 2 * CONV3_PER_EDGE == 78_561_920
    all_conv = _arch(*["nor_conv_3x3"] * 6)
    assert _macs(all_conv) == FIXED_MACS + 6 * CONV3_PER_EDGE == 220_119_680
    # NAS-Bench-201's convention adds pooling windows (2x2 shortcut pools: 16 x 16^2 x 4 + 32 x 8^2 x 4) and
    # the FC bias (10) to the MACs
    cost = count_network(nb201_network(RESNET))
    assert nb201_published_flops(cost.layers) == 78_561_920 + 16_384 + 8_192 + 10


def _cell0(arch: str, execution: str) -> pd.DataFrame:
    layers = count_network(nb201_network(arch, execution=execution)).layers
    return layers[layers.name.str.startswith("cells.0.")]


ELEMENTS = 16 * 32 * 32  # one stage-1 activation (C = 16, 32 x 32, batch 1)


def test_eager_runs_every_edge_and_sums_with_python_sum():
    # xautodl's InferCell: a `none` edge is x.mul(0.); node j = sum(its k edge tensors) = k binary adds, the first
    # 0 + t (one input). RESNET's cell: node 1 <- conv; node 2 <- none, conv; node 3 <- skip, none, skip.
    cell = _cell0(RESNET, "eager")
    assert list(cell[cell.op == "add"].name) == ["cells.0.n1.add0", "cells.0.n2.add0", "cells.0.n2.add1",
                                                  "cells.0.n3.add0", "cells.0.n3.add1", "cells.0.n3.add2"]
    assert list(cell[cell.op == "mul"].name) == ["cells.0.n2_from0.zero", "cells.0.n3_from1.zero"]
    assert (cell[cell.op.isin(["add", "mul"])].other_ops == ELEMENTS).all()  # one op per element each
    # kernels: node 1 relu, conv, bn, add0 (4); node 2 zero, relu, conv, bn, add0, add1 (6); node 3 zero, 3 adds (4)
    assert int((cell.ops + cell.input_bytes + cell.output_bytes > 0).sum()) == 14
    skips = cell[cell.op == "identity"]
    assert len(skips) == 2 and (skips[["ops", "input_bytes", "output_bytes"]] == 0).all().all()
    whole = count_network(nb201_network(RESNET)).layers
    assert int((whole.op == "add").sum()) == 15 * 6 + 2  # six per cell, one per reduction block


def test_pruned_drops_none_edges_and_sums_each_node_once():
    # RESNET pruned: node 2's none edge is gone (one term: no add); node 3 sums two skips with one add
    cell = _cell0(RESNET, "pruned")
    assert list(cell[cell.op == "add"].name) == ["cells.0.n3.add"] and not (cell.op == "mul").any()
    assert int(cell[cell.op == "add"].other_ops.iloc[0]) == ELEMENTS
    three = _cell0(_arch(e30="skip_connect", e31="avg_pool_3x3", e32="nor_conv_1x1"), "pruned")
    add = three[three.name == "cells.0.n3.add"]
    assert int(add.other_ops.iloc[0]) == 2 * ELEMENTS  # three tensors: two adds per element
    # an edge out of a node that received nothing still runs (on zeros): node 1 <- none, node 2 <- conv of node 1
    dead = _cell0(_arch(e21="nor_conv_3x3", e30="skip_connect"), "pruned")
    assert list(dead[dead.op == "conv"].name) == ["cells.0.n2_from1.conv"]


def test_executions_and_the_stacks_that_use_them():
    with pytest.raises(SpecError, match="unknown NAS-Bench-201 execution 'lazy'; use one of eager, pruned"):
        nb201_network(RESNET, execution="lazy")
    assert [nb201_execution(f) for f in ("TFLite", " tflite ", "PyTorch", None, float("nan"))] == \
        ["pruned", "pruned", "eager", "eager", "eager"]
    # MACs are the same either way: none edges and adds carry none
    for arch in (RESNET, _arch(*["nor_conv_3x3"] * 6)):
        assert count_network(nb201_network(arch, execution="pruned")).totals["macs"] == _macs(arch)


def test_batch_scales_activations_not_params():
    one, eight = (count_network(nb201_network(RESNET, batch=b)) for b in (1, 8))
    assert eight.totals["macs"] == 8 * one.totals["macs"]
    assert eight.totals["params"] == one.totals["params"]


def test_parse_errors():
    with pytest.raises(SpecError, match="has 2 nodes"):
        parse_nb201_arch("|none~0|+|none~0|none~1|")
    with pytest.raises(SpecError, match="unknown op 'conv_5x5'"):
        parse_nb201_arch("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(SpecError, match=r"node 2 needs one edge from each of nodes 0..1, got sources \[0, 0\]"):
        parse_nb201_arch("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|")
    with pytest.raises(SpecError, match="edge 'none' is not 'op~source'"):
        parse_nb201_arch("|none|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(SpecError, match="batch must be a positive integer, got 0"):
        nb201_network(RESNET, batch=0)


def test_building_the_whole_space_is_feasible():
    archs = [_arch(*ops) for ops in itertools.product(NB201_OPS, repeat=6)]
    assert len(archs) == 15_625
    start = time.perf_counter()
    for arch in archs[:2000]:
        nb201_network(arch)
    per_network = (time.perf_counter() - start) / 2000
    assert per_network < 0.02, f"{per_network * 1e3:.1f} ms per network; 15,625 would take too long"


def test_a_named_architecture_is_built_as_its_framework_runs_it():
    from rooflinekit.api import resolve_network

    eager, pruned = (resolve_network(f"NB201 {RESNET}", framework=f) for f in (None, "TFLite"))
    assert eager is nb201_network(RESNET) and pruned is nb201_network(RESNET, execution="pruned")
    # RESNET per cell: eager 2 x mul(0) + 6 adds more than pruned's 1 add: 7 layers more in each of 15 cells
    assert len(eager.layers) - len(pruned.layers) == 15 * 7
