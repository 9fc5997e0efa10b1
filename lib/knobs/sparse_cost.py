"""What sparsity costs: bytes in dense, COO and CSR storage, and the matrix multiplies to time (chapter 5).

A zero stored in a dense tensor takes the same bytes as any other number; a sparse
format stores only the non-zeros plus where they are. `storage_bytes` adds up the
bytes of a real torch tensor's parts; `pruned_versions` makes the three versions of a
pruned matrix the chapter compares (dense with zeros, sparse CSR, structured: fewer
rows); `matmul_cases` gives the multiplies to time with `knobs.timing.compare_seconds`.
"""
from __future__ import annotations

import warnings

import torch

from knobs.prune import count_to_prune
from knobs.validate import ArgumentTypeError, check_choice, check_fraction, check_instance, check_int, check_tensor, fail

LAYOUTS = ("dense", "coo", "csr")


def to_csr(weight: torch.Tensor) -> torch.Tensor:
    """`weight.to_sparse_csr()`, without PyTorch's "CSR support is in beta" warning on every call."""
    check_tensor("weight", weight, dim=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return weight.to_sparse_csr()


def storage_bytes(weight: torch.Tensor, layout: str = "dense", index_dtype: torch.dtype = torch.int64) -> int:
    """Bytes to store `weight` as a real torch tensor in `layout` ('dense', 'coo' or 'csr'), summed from its parts.

    `weight` may be dense, or already a sparse COO / CSR tensor (then `layout` must match it).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    check_tensor("weight", weight)
    check_choice("index_dtype", index_dtype, (torch.int32, torch.int64))
    if weight.dim() != 2:
        raise ValueError(f"weight must be a 2-D matrix, got shape {tuple(weight.shape)}")
    given = {torch.strided: "dense", torch.sparse_coo: "coo", torch.sparse_csr: "csr"}.get(weight.layout)
    if given != "dense" and given != layout:
        raise ValueError(f"weight is already a {given} tensor; layout must be {given!r}, got {layout!r}")
    if layout == "dense":
        parts = [weight]
    elif layout == "coo":
        sparse = (weight if given == "coo" else weight.to_sparse()).coalesce()
        parts = [sparse.values(), sparse.indices().to(index_dtype)]  # (nnz,), (2, nnz): a row and a column each
    else:
        sparse = weight if given == "csr" else to_csr(weight)
        parts = [sparse.values(), sparse.col_indices().to(index_dtype), sparse.crow_indices().to(index_dtype)]
    return sum(part.numel() * part.element_size() for part in parts)


def csr_breakeven(rows: int, cols: int, value_bytes: int = 4, index_bytes: int = 8) -> float:
    """The sparsity above which a rows × cols matrix takes fewer bytes in CSR than dense (chapter 5).

    CSR stores (value + column index) per non-zero and one row pointer per row plus one:
    (value_bytes + index_bytes)·nnz + index_bytes·(rows + 1) < value_bytes·rows·cols.
    """
    check_int("rows", rows, 1)
    check_int("cols", cols, 1)
    for name, value, allowed in (("value_bytes", value_bytes, (1, 2, 4, 8)), ("index_bytes", index_bytes, (4, 8))):
        if check_int(name, value, 1) not in allowed:  # check_int first: it refuses True, which equals 1
            fail(name, f"one of {allowed} (bytes per value / per index)", value)
    max_nnz = (value_bytes * rows * cols - index_bytes * (rows + 1)) / (value_bytes + index_bytes)
    return min(1.0, max(0.0, 1 - max_nnz / (rows * cols)))


@torch.no_grad()
def pruned_versions(weight: torch.Tensor, sparsities) -> dict[float, dict[str, torch.Tensor]]:
    """Chapter 5's cost study: for each sparsity, three versions of a pruned matrix.

    'dense with zeros': the smallest |w| set to zero (same mask as `magnitude_mask`), still a dense tensor;
    'sparse CSR': the same zeros stored as a torch.sparse CSR tensor;
    'structured': the same fraction of whole rows (smallest L2 norm, as `structured_mask`) removed -- a
    smaller dense matrix. One sort of |w| serves every sparsity.
    """
    check_tensor("weight", weight, floating=True)
    if weight.dim() != 2:
        raise ValueError(f"weight must be a 2-D matrix, got shape {tuple(weight.shape)}")
    if isinstance(sparsities, str) or not hasattr(sparsities, "__iter__"):
        fail("sparsities", "a list of sparsities", sparsities, ArgumentTypeError)
    for sparsity in sparsities:
        check_fraction("sparsities (each sparsity)", sparsity)
    order = torch.topk(weight.abs().flatten(), weight.numel(), largest=False).indices  # smallest |w| first
    row_order = torch.topk(torch.linalg.vector_norm(weight, dim=1), weight.shape[0], largest=False).indices
    versions = {}
    for sparsity in sparsities:
        zeros = weight.flatten().clone()
        zeros[order[:count_to_prune(sparsity, weight.numel())]] = 0.0
        zeros = zeros.view_as(weight)
        kept_rows = row_order[count_to_prune(sparsity, weight.shape[0]):].sort().values
        versions[sparsity] = {"dense with zeros": zeros, "sparse CSR": to_csr(zeros),
                              "structured": weight[kept_rows].contiguous()}
    return versions


def matmul_cases(versions: dict, X: torch.Tensor) -> dict[tuple[str, float], callable]:
    """{(version, sparsity): a function computing X @ W.T with that version of W}, ready for `knobs.timing.compare_seconds`."""
    check_instance("versions", versions, dict, "the dict pruned_versions returns")
    check_tensor("X", X, floating=True, dim=2)
    Xt = X.T.contiguous()  # (cols, batch): torch.sparse multiplies CSR (rows, cols) @ dense (cols, batch)
    cases = {}
    for sparsity, v in versions.items():
        zeros, csr, small = v["dense with zeros"], v["sparse CSR"], v["structured"]
        cases["dense with zeros", sparsity] = lambda zeros=zeros: X @ zeros.T  # (batch, rows)
        cases["sparse CSR", sparsity] = lambda csr=csr: csr @ Xt  # (rows, batch)
        cases["structured", sparsity] = lambda small=small: X @ small.T  # (batch, rows kept)
    return cases
