"""knobs.sparse_cost: bytes of real sparse tensors, the three pruned versions of a matrix, the multiplies to time."""
import pytest
import torch

from knobs import prune, sparse_cost


def test_storage_bytes_add_up_the_parts_of_real_sparse_tensors():
    weight = torch.zeros(10, 8)
    weight[0, 0], weight[3, 5], weight[9, 7] = 1.0, -2.0, 3.0
    assert sparse_cost.storage_bytes(weight, "dense") == 10 * 8 * 4
    assert sparse_cost.storage_bytes(weight, "coo") == 3 * 4 + 2 * 3 * 8  # values + (row, column) per value
    assert sparse_cost.storage_bytes(weight, "csr") == 3 * 4 + 3 * 8 + 11 * 8  # values + columns + row pointers
    assert sparse_cost.storage_bytes(weight, "csr", torch.int32) == 3 * 4 + 3 * 4 + 11 * 4


def test_pruned_versions_match_the_masks_and_multiply_like_the_dense_matrix():
    torch.manual_seed(0)
    weight, X = torch.randn(12, 5), torch.randn(3, 5)
    versions = sparse_cost.pruned_versions(weight, (0.0, 0.5))
    half = versions[0.5]
    torch.testing.assert_close(half["dense with zeros"], weight * prune.magnitude_mask(weight, 0.5))
    torch.testing.assert_close(half["sparse CSR"].to_dense(), half["dense with zeros"])
    rows = prune.structured_mask(weight, 0.5)[:, 0] != 0
    torch.testing.assert_close(half["structured"], weight[rows])
    cases = sparse_cost.matmul_cases(versions, X)
    torch.testing.assert_close(cases["sparse CSR", 0.5]().T, cases["dense with zeros", 0.5]())
    torch.testing.assert_close(cases["dense with zeros", 0.0](), X @ weight.T)


@pytest.mark.parametrize("call, message", [
    (lambda: sparse_cost.storage_bytes(torch.ones(2, 2), "bsr"), "layout must be one of"),
    (lambda: sparse_cost.storage_bytes(torch.ones(2), "dense"), "2-D matrix"),
    (lambda: sparse_cost.storage_bytes(torch.ones(2, 2).to_sparse_coo(), "csr"), "already a coo tensor"),
    (lambda: sparse_cost.pruned_versions(torch.ones(2), (0.5,)), "2-D matrix"),
])
def test_bad_input_gets_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
