"""The einsum counter (rooflinekit.counters.einsum): every expected count is derived by hand in a comment.

Convention: with at least one letter summed, two operands cost the product of the sizes of all distinct letters in
MACs; more operands are multiplied left to right, pairwise. Without a summed letter the layer is an elementwise or
outer product: ``other_ops = (operands - 1) * prod(output)``. The operands are the layer's inputs, then its weights.
"""

from __future__ import annotations

import pytest

from rooflinekit.counters import DEFAULT_COUNTERS, count_network
from rooflinekit.counters.einsum import einsum_macs
from rooflinekit.descriptors import Layer, LayerNetwork
from rooflinekit.errors import ShapeError


def einsum(equation: str | None, *inputs: tuple[int, ...], weights: tuple = (), outputs: tuple = ()):
    attrs = {} if equation is None else {"equation": equation}
    layer = Layer(name="e", op="einsum", inputs=inputs, weights=weights, outputs=outputs, attrs=attrs)
    return DEFAULT_COUNTERS.get("einsum")(layer)


def test_batched_matrix_product() -> None:
    # bij,bjk->bik on (2, 3, 4), (2, 4, 5): letters b=2, i=3, j=4, k=5, j summed: 2 * 3 * 4 * 5 = 120 MACs
    count = einsum("bij,bjk->bik", (2, 3, 4), (2, 4, 5), outputs=((2, 3, 5),))
    assert (count.macs, count.other_ops) == (120, 0)


def test_through_count_network() -> None:
    # the same layer in a network: 120 MACs = 240 ops
    layer = Layer(name="e", op="einsum", inputs=((2, 3, 4), (2, 4, 5)), outputs=((2, 3, 5),),
                  attrs={"equation": "bij,bjk->bik"})
    cost = count_network(LayerNetwork(name="n", precision="fp32", source="test", layers=[layer]))
    assert cost.totals["macs"] == 120 and cost.totals["ops"] == 240


def test_weight_operand_follows_the_inputs() -> None:
    # bij,kj->bik with x (2, 3, 4) an input and W (5, 4) a weight: b=2, i=3, j=4, k=5: 120 MACs
    assert einsum("bij,kj->bik", (2, 3, 4), weights=((5, 4),)).macs == 120


def test_ellipsis_and_implicit_output() -> None:
    # ...ij,...jk on (7, 2, 3), (3, 4): the ellipsis is one dim of 7 (broadcast against none); i=2, j=3, k=4:
    # 7 * 2 * 3 * 4 = 168
    assert einsum_macs("...ij,...jk->...ik", [(7, 2, 3), (3, 4)]) == 168
    # implicit output: ij,jk -> ik (j appears twice: summed): 2 * 3 * 4 = 24
    assert einsum_macs("ij,jk", [(2, 3), (3, 4)]) == 24
    # spaces are ignored
    assert einsum_macs(" ij , jk -> ik ", [(2, 3), (3, 4)]) == 24
    # a size-1 letter broadcasts: b=1 against b=5 is b=5: 5 * 2 * 3 * 4 = 120
    assert einsum_macs("bij,bjk->bik", [(1, 2, 3), (5, 3, 4)]) == 120


def test_three_operands_left_to_right() -> None:
    # (i,j)x(j,k) keeps k (needed by the output through kl): 2 * 3 * 4 = 24; then (i,k)x(k,l): 2 * 4 * 5 = 40 -> 64
    assert einsum("ij,jk,kl->il", (2, 3), (3, 4), (4, 5)).macs == 64


def test_nothing_summed_is_a_product() -> None:
    # Hadamard ij,ij->ij on (3, 4): one multiply per output element: 12 ops, no MAC
    count = einsum("ij,ij->ij", (3, 4), (3, 4))
    assert (count.macs, count.other_ops) == (0, 12)
    # outer product i,j->ij on (3,), (4,): 12 multiplies; three operands i,j,k->ijk (2, 3, 4): 2 * 24 = 48
    assert einsum("i,j->ij", (3,), (4,)).other_ops == 12
    assert einsum("i,j,k->ijk", (2,), (3,), (4,)).other_ops == 48
    # one operand: a permutation costs nothing, a sum one op per input element (as reduce_sum): 3 * 4 = 12
    assert einsum("ij->ji", (3, 4)) == einsum("ij->ij", (3, 4)) and einsum("ij->ji", (3, 4)).other_ops == 0
    assert (einsum("ij->i", (3, 4)).macs, einsum("ij->i", (3, 4)).other_ops) == (0, 12)
    assert einsum_macs("ij->i", [(3, 4)]) == 0


def test_missing_equation() -> None:
    with pytest.raises(ShapeError, match=r"^einsum layer 'e' lacks the 'equation' attribute \(e\.g\. 'bij,bjk->bik'\) "
                                         r"its counter reads; got None$"):
        einsum(None, (2, 3), (3, 4))


def test_equation_that_does_not_fit() -> None:
    with pytest.raises(ShapeError, match=r"^einsum layer 'e': equation 'ij,jk->ik' does not fit 1 operands; check "
                                         r"the model$"):
        einsum("ij,jk->ik", (2, 3))
    with pytest.raises(ShapeError, match=r"^einsum: index 'j' of 'ij,jk->ik' has sizes 3 and 4$"):
        einsum_macs("ij,jk->ik", [(2, 3), (4, 5)])
    with pytest.raises(ShapeError, match=r"^einsum: term 'ijk' of 'ijk,kl->il' does not match operand shape "
                                         r"\[2, 3\]$"):
        einsum_macs("ijk,kl->il", [(2, 3), (3, 4)])
    with pytest.raises(ShapeError, match=r"^einsum: output indices \['z'\] of 'ij,jk->iz' appear in no operand; "
                                         r"check the model$"):
        einsum_macs("ij,jk->iz", [(2, 3), (3, 4)])
