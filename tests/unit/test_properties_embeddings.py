"""Property tests of knobs.embeddings against torch.nn.functional and torch.linalg.

Oracles: F.one_hot and F.embedding for the lookup; F.cosine_similarity computed in
float64 for the cosine; torch.linalg.eigh of the covariance for the principal axes.

Difference, on purpose, checked here: our cosine divides each vector by its largest
|entry| before taking its length, so it stays right for vectors of 1e30 or 1e-30;
torch's squares first and, in float32, gives 0 for vectors of 1e20 and beyond and
values far above 1 (1e16) for vectors of 1e-30 with a small eps. So the oracle is
torch's formula in float64, where those squares fit; and cosine is checked to be
scale-invariant, which torch's float32 one is not.
"""
import math

import pytest
import torch
from hypothesis import given, strategies as st
from torch.nn import functional as F
from torch.testing import assert_close

from knobs import embeddings as E
from knobs.data import Vocab
from properties import dtypes, examples, shapes, weights


@st.composite
def vector_pairs(draw):
    """(a, b, dim): two tensors that broadcast, of any float dtype and magnitude, and a dim to reduce."""
    dtype = draw(dtypes)
    shape = draw(shapes(min_dims=1, max_dims=3))
    b_shape = tuple(1 if draw(st.booleans()) and len(shape) > 1 else s for s in shape)  # broadcasting
    a = draw(weights(dtype=dtype, shape=shape, specials=draw(st.booleans())))
    b = draw(weights(dtype=dtype, shape=b_shape))
    return a, b, draw(st.integers(-len(shape), len(shape) - 1))


@examples(100)
@given(vector_pairs(), st.sampled_from([1e-8, 1e-6, 1e-3]))
def test_cosine_similarity_matches_torchs_formula_in_float64(case, eps):
    a, b, dim = case
    ours = E.cosine_similarity(a, b, dim=dim, eps=eps)
    assert ours.dtype == a.dtype
    ref = F.cosine_similarity(a.double(), b.double(), dim=dim, eps=eps)
    tol = torch.finfo(a.dtype).eps * 8 * max(a.shape[dim], b.shape[dim])
    assert_close(ours.double(), ref, rtol=tol, atol=tol, equal_nan=True)  # NaN or inf in a vector: NaN, as torch


@examples(40)
@given(st.integers(2, 8).flatmap(lambda n: weights(dtype=torch.float32, shape=(n,), styles=("normal",))),
       st.sampled_from([1e-30, 1e-20, 1.0, 1e20, 1e30]))
def test_cosine_similarity_is_scale_invariant_where_torchs_float32_is_not(v, c):
    """torch's float32 cosine of vectors of 2+ entries: 0 at 1e20 and beyond, and far above 1 at 1e-30 (small eps)."""
    if float(v.norm()) < 1e-3:
        return  # below eps the cosine is defined to shrink (max(|v|, eps)): not a scale-free case
    eps = 1e-38  # below |c v|: the eps clamp (max(|v|, eps), as torch's) stays out of the way
    ours = E.cosine_similarity(v * c, v.flip(0) * c, dim=0, eps=eps)
    assert_close(ours, E.cosine_similarity(v, v.flip(0), dim=0, eps=eps), rtol=1e-5, atol=1e-6)
    if c in (1e-30, 1e30):  # the stated difference: torch squares 1e30 (overflow) or 1e-30 (underflow) first
        assert not math.isclose(float(F.cosine_similarity(v * c, v * c, dim=0, eps=eps)), 1.0, abs_tol=1e-3)


@examples(40)
@given(st.integers(2, 12), shapes(min_dims=0, max_dims=3), dtypes, st.data())
def test_one_hot_lookup_is_torchs_embedding_in_every_dtype(num_words, id_shape, dtype, data):
    ids = torch.tensor(data.draw(st.lists(st.integers(0, num_words - 1), min_size=math.prod(id_shape),
                                          max_size=math.prod(id_shape)))).reshape(id_shape)
    assert torch.equal(E.one_hot(ids, num_words), F.one_hot(ids, num_words).float())
    table = data.draw(weights(dtype=dtype, shape=(num_words, data.draw(st.integers(1, 5))), noncontiguous=True))
    out = E.lookup_by_one_hot(table, ids)
    assert out.dtype == dtype
    assert_close(out, F.embedding(ids, table), rtol=0, atol=0, equal_nan=True)


@examples(40)
@given(weights(min_dims=2, max_dims=2, max_side=8, styles=("normal", "mixed", "huge", "tiny")), st.data())
def test_principal_axes_are_orthonormal_and_span_the_top_eigenvectors(table, data):
    if table.shape[0] < 2:
        return
    k = data.draw(st.integers(1, min(table.shape)))
    mean, axes = E.principal_axes(table, k)
    work = table.double() if table.dtype == torch.float64 else table.float()  # the stated computing dtype
    assert axes.dtype == mean.dtype == work.dtype and axes.shape == (table.shape[1], k)
    assert_close(axes.T @ axes, torch.eye(k, dtype=work.dtype), rtol=0, atol=1e-4)
    top = axes.abs().argmax(dim=0)
    assert bool((axes[top, torch.arange(k)] > 0).all())  # sign fixed: the largest component is positive
    centred = (work - mean).double()
    values, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending
    gaps = values.flip(0)
    scale = float(gaps[0]) if float(gaps[0]) > 0 else 1.0
    for j in range(k):  # where an eigenvalue stands apart from its neighbours, its eigenvector is the axis
        neighbours = [gaps[i] for i in (j - 1, j + 1) if 0 <= i < len(gaps)]
        if all(abs(float(gaps[j] - n)) > 1e-2 * scale for n in neighbours):
            cosine = float((vectors[:, -1 - j] @ axes[:, j].double()).abs())
            assert cosine == pytest.approx(1.0, abs=1e-3)


def toy_vocab(n):
    return Vocab(tuple(f"w{i:02d}" for i in range(n)))


@examples(40)
@given(weights(dtype=torch.float32, min_dims=2, max_dims=2, max_side=8, styles=("normal", "mixed")), st.data())
def test_nearest_words_and_analogy_rank_by_torchs_cosine(table, data):
    if table.shape[0] < 4 or bool((table.norm(dim=1) < 1e-3).any()):
        return  # near-zero vectors: every cosine ties at 0, nothing to rank
    vocab = toy_vocab(table.shape[0])
    i = data.draw(st.integers(0, table.shape[0] - 1))
    k = data.draw(st.integers(1, table.shape[0] - 1))
    found = E.nearest_words(table, vocab, vocab.words[i], k)
    sims = F.cosine_similarity(table, table[i:i + 1], dim=1)
    sims[i] = -math.inf
    expected = torch.sort(sims, descending=True, stable=True).values[:k]
    assert_close(torch.tensor([s for _, s in found]), expected, rtol=1e-5, atol=1e-6)
    a, b, c = (vocab.words[data.draw(st.integers(0, table.shape[0] - 1))] for _ in range(3))
    left = len(vocab) - len({a, b, c})
    if left:
        answer = E.analogy(table, vocab, a, b, c, k=1, normalize=False)[0]
        target = table[vocab.id(b)] - table[vocab.id(a)] + table[vocab.id(c)]
        sims = F.cosine_similarity(table, target[None], dim=1)
        sims[[vocab.id(w) for w in (a, b, c)]] = -math.inf
        assert answer[1] == pytest.approx(float(sims.max()), abs=1e-5)


@examples(20)
@given(st.integers(1, 48), st.integers(0, 2 ** 31 - 1))
def test_random_rotations_are_rotations(d, seed):
    R = E.random_rotation(d, seed)
    assert_close(R @ R.T, torch.eye(d), rtol=0, atol=1e-5)
    assert float(torch.linalg.det(R.double())) == pytest.approx(1.0, abs=1e-4)
    assert torch.equal(R, E.random_rotation(d, seed))  # the same seed, the same rotation


@examples(30)
@given(weights(min_dims=2, max_dims=2, specials=True))
def test_nan_in_a_table_is_refused_where_it_would_pick_an_answer_and_propagates_elsewhere(table):
    if table.shape[0] < 2:
        return
    bad = not bool(torch.isfinite(table).all())
    if bad:
        with pytest.raises(ValueError, match="E must hold only finite numbers"):
            E.principal_axes(table, 1)
    sims = E.similarity_matrix(table)  # a number per pair: NaN where a row is broken, never an error
    rows_ok = torch.isfinite(table.float()).all(dim=1)
    assert bool(torch.isfinite(sims[rows_ok][:, rows_ok]).all())
