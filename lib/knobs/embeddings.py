"""Embeddings: a table of parameters that gives every word a place (chapter 4).

Scope: the lookup as a one-hot vector times a matrix; which rows a batch's
gradient reaches; cosine similarity, nearest neighbours and word analogies by
vector offset (Mikolov et al. 2013), from scratch; principal axes for a fixed
2-D view of a wider embedding; rotating a TinyLM's embedding space without
changing a single output, and stretching it by any invertible matrix (which
changes every angle) without changing one either; a TinyLM with its output layer
tied to the table; and how much of GPT-2 is embeddings. Every
from-scratch function is tested against PyTorch's own in tests/test_embeddings.py.

Shapes: V words in the vocabulary, d numbers per word vector, an embedding
table `E` is (V, d) and row i is word i's vector.

Dtypes: `cosine_similarity` and `lookup_by_one_hot` return their inputs' dtype.
The table functions (similarity_matrix, principal_axes, project, ...) accept a
tensor or array of any dtype and compute in float32, or float64 if given float64
(CPU SVD has no half precision). NaN or inf in a table propagates where the
answer is a number per entry (cosine_similarity, similarity_matrix, project: a
diverged run's map shows NaN) and is refused where it would silently pick an
answer (nearest_words, analogy, principal_axes); neighbour_agreement reads it as 0.
"""
from __future__ import annotations

import copy
from dataclasses import replace

import torch
from torch import nn

from knobs.data import Vocab
from knobs.models import GPT2Config, TinyLMConfig, check_tiny_lm, gpt2_parameter_formula
from knobs.validate import ArgumentTypeError, check_bool, check_instance, check_int, check_number, check_text, fail


def _as_tensor(name: str, x, **kw) -> torch.Tensor:
    """torch.as_tensor(x), or an error naming the argument when x is not numbers (a string, None, ragged lists)."""
    try:
        return torch.as_tensor(x, **kw)
    except (TypeError, ValueError, RuntimeError):
        fail(name, "a tensor, an array or a list of numbers", x, ArgumentTypeError)


def _check_vocab(vocab, E) -> None:
    check_instance("vocab", vocab, Vocab, "a knobs Vocab (e.g. data.farm_split().vocab)")
    if E.shape[0] != len(vocab):
        raise ValueError(f"E has {E.shape[0]} rows but the vocabulary has {len(vocab)} words")


def _table(E, name: str = "E", finite: bool = True) -> torch.Tensor:
    """Accept a (V, d) tensor or array (a snapshot's numpy copy too); refuse anything else clearly."""
    try:
        E = torch.as_tensor(E)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a 2-D table of numbers (a tensor or array), got {type(E).__name__}") from None
    if E.ndim != 2 or E.shape[0] < 2 or E.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D table (words × dimensions) with at least 2 rows, got shape {tuple(E.shape)}")
    E = E.double() if E.dtype == torch.float64 else E.float()
    if finite and not bool(torch.isfinite(E).all()):
        raise ValueError(f"{name} must hold only finite numbers, got {int((~torch.isfinite(E)).sum())} NaN or inf")
    return E


# ---- the lookup ---------------------------------------------------------------------------------
def one_hot(ids: torch.Tensor, num_words: int) -> torch.Tensor:
    """(…,) word ids -> (…, num_words) rows of zeros with a single 1 at each id."""
    ids = _as_tensor("ids", ids)
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"ids must be whole-number word ids, got dtype {ids.dtype}")
    if isinstance(num_words, bool) or not isinstance(num_words, int) or num_words < 1:
        raise ValueError(f"num_words must be a whole number 1 or more, got {num_words!r}")
    if ids.numel() and not (0 <= int(ids.min()) and int(ids.max()) < num_words):
        raise ValueError(f"ids must be between 0 and {num_words - 1}, got {int(ids.min())} … {int(ids.max())}")
    out = torch.zeros(*ids.shape, num_words)
    return out.scatter_(-1, ids.long().unsqueeze(-1), 1.0)


def lookup_by_one_hot(E: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """What nn.Embedding does, written as a product: one_hot(ids) (…, V) @ E (V, d) -> (…, d)."""
    E = _as_tensor("E", E)
    if E.ndim != 2:
        raise ValueError(f"E must be a 2-D table (words × dimensions), got shape {tuple(E.shape)}")
    return one_hot(ids, E.shape[0]).to(E.dtype) @ E


def rows_with_gradient(grad: torch.Tensor | None) -> list[int]:
    """Indices of the rows of an embedding's gradient that are not all zero."""
    if grad is None:
        raise ValueError("grad is None: call loss.backward() first (and do not zero the gradients before looking)")
    grad = _table(grad, "grad", finite=False)
    return torch.nonzero((grad != 0).any(dim=1)).flatten().tolist()  # a NaN row has a (broken) gradient too


# ---- closeness ----------------------------------------------------------------------------------
def cosine_similarity(a: torch.Tensor, b: torch.Tensor, dim: int = -1, eps: float = 1e-8) -> torch.Tensor:
    """a·b / (max(|a|, eps) · max(|b|, eps)) along `dim`; broadcasts like torch.nn.functional.cosine_similarity.

    Each vector is divided by its largest |entry| before its length is taken, so vectors of 1e30 or
    1e-30 get their true cosine: torch's squares them first and, in float32, returns 0 for the first
    and (with a small eps) numbers far above 1 for the second.
    NaN or inf in a vector gives NaN, as in torch. The result has the inputs' (promoted) dtype.
    """
    check_number("eps", eps, 0, low_open=True)
    a, b = _as_tensor("a", a), _as_tensor("b", b)
    if not (a.is_floating_point() and b.is_floating_point()):
        raise ValueError(f"a and b must be floating-point tensors, got {a.dtype} and {b.dtype}")
    a, b = torch.broadcast_tensors(a, b)
    if a.ndim == 0:
        raise ValueError("a and b must be vectors (at least 1 dimension), got two single numbers")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -a.ndim <= dim < a.ndim:
        raise ValueError(f"dim must be between {-a.ndim} and {a.ndim - 1} for {a.ndim}-D inputs, got {dim!r}")
    return (_unit(a, dim, eps) * _unit(b, dim, eps)).sum(dim=dim)


def _unit(x: torch.Tensor, dim: int, eps: float) -> torch.Tensor:
    """x / max(|x|, eps), computed as (x / m) / max(|x / m|, eps / m) with m = max|x|: no square over- or underflows."""
    m = x.abs().amax(dim=dim, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)
    scaled = x / m  # entries in [-1, 1]
    return scaled / torch.maximum(scaled.norm(dim=dim, keepdim=True), eps / m)


def similarity_matrix(E) -> torch.Tensor:
    """(V, d) -> (V, V): the cosine similarity of every word with every word."""
    E = _table(E, finite=False)
    return cosine_similarity(E[:, None, :], E[None, :, :])


def nearest_words(E, vocab, word: str, k: int = 3) -> list[tuple[str, float]]:
    """The k words whose vectors point most nearly the same way as `word`'s (the word itself left out)."""
    E = _table(E)
    _check_vocab(vocab, E)
    check_text("word", word)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(vocab) - 1:
        raise ValueError(f"k must be between 1 and {len(vocab) - 1}, got {k!r}")
    i = vocab.id(word)
    sims = cosine_similarity(E, E[i])
    sims[i] = -float("inf")
    top = torch.topk(sims, k)
    return [(vocab.words[j], float(s)) for s, j in zip(top.values, top.indices)]


def analogy(E, vocab, a: str, b: str, c: str, k: int = 1, exclude_inputs: bool = True,
            normalize: bool = True) -> list[tuple[str, float]]:
    """'a is to b as c is to ?': the words nearest (by cosine) to b - a + c, the vector offset of Mikolov et al. (2013).

    As word2vec's own evaluation (and Levy & Goldberg's 3CosAdd) does, every vector is scaled to
    length 1 first (`normalize=False`: the raw vectors, where long ones dominate the offset).
    The usual implementations leave a, b and c out of the answers; `exclude_inputs=False`
    shows what the arithmetic alone gives (often one of the inputs: Nissim et al. 2020).
    """
    E = _table(E)
    check_bool("normalize", normalize)
    if normalize:
        E = E / E.norm(dim=1, keepdim=True).clamp_min(1e-12)
    _check_vocab(vocab, E)
    for name, word in (("a", a), ("b", b), ("c", c)):
        check_text(name, word)
    check_bool("exclude_inputs", exclude_inputs)
    ia, ib, ic = vocab.id(a), vocab.id(b), vocab.id(c)
    left = len(vocab) - (len({ia, ib, ic}) if exclude_inputs else 0)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= left:
        raise ValueError(f"k must be between 1 and {left}, got {k!r}")
    sims = cosine_similarity(E, E[ib] - E[ia] + E[ic])
    if exclude_inputs:
        sims[[ia, ib, ic]] = -float("inf")
    top = torch.topk(sims, k)
    return [(vocab.words[j], float(s)) for s, j in zip(top.values, top.indices)]


def neighbor_agreement(E, labels: list[str]) -> float:
    """Share of words whose nearest other word (by cosine) carries the same label; 0..1."""
    E = _table(E, finite=False)  # a diverged run's NaNs count as zeros below
    check_instance("labels", labels, (list, tuple), "a list with one label per row of E")
    if len(labels) != E.shape[0]:
        raise ValueError(f"labels must give one label per row of E ({E.shape[0]}), got {len(labels)}")
    sims = similarity_matrix(torch.nan_to_num(E, nan=0.0, posinf=0.0, neginf=0.0))
    sims.fill_diagonal_(-float("inf"))
    nearest = sims.argmax(dim=1).tolist()
    return sum(labels[i] == labels[j] for i, j in enumerate(nearest)) / len(labels)


def chance_agreement(labels: list[str]) -> float:
    """The expected neighbour agreement if each word's nearest neighbour were a random other word."""
    check_instance("labels", labels, (list, tuple), "a list of labels")
    n = len(labels)
    if n < 2:
        raise ValueError(f"labels must have at least 2 entries, got {n}")
    sizes = [labels.count(label) for label in set(labels)]
    return sum(s * (s - 1) for s in sizes) / (n * (n - 1))


def context_profiles(ids, num_words: int) -> torch.Tensor:
    """(V, 2V): for each word, how often each word comes 1 and 2 places after it (each row sums to 1).

    The next-word task only ever asks an embedding what tends to follow its word,
    so words with similar profiles have every reason to get similar vectors.
    """
    ids = _as_tensor("ids", ids).long().flatten()
    if ids.numel() < 3:
        raise ValueError(f"ids must hold at least 3 word ids, got {ids.numel()}")
    if not isinstance(num_words, int) or not 0 <= int(ids.min()) <= int(ids.max()) < num_words:
        raise ValueError(f"num_words must exceed every id (largest id {int(ids.max())}), got {num_words!r}")
    counts = torch.zeros(num_words, 2 * num_words)
    ones = torch.ones(ids.numel() - 2)
    counts.index_put_((ids[:-2], ids[1:-1]), ones, accumulate=True)  # the word right after
    counts.index_put_((ids[:-2], num_words + ids[2:]), ones, accumulate=True)  # the word two places after
    return counts / counts.sum(dim=1, keepdim=True).clamp_min(1)


# ---- a fixed 2-D view ---------------------------------------------------------------------------
def principal_axes(E, k: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean (d,), axes (d, k)): the k orthonormal directions along which the rows of E spread most.

    Signs are fixed (each axis's largest component is positive) so the same E always gives the same view.
    """
    E = _table(E)
    most = min(E.shape)  # the SVD of a V x d table has min(V, d) directions
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= most:
        raise ValueError(f"k must be between 1 and {most} (the smaller of E's {E.shape[0]} rows and "
                         f"{E.shape[1]} dimensions), got {k!r}")
    mean = E.mean(dim=0)
    _, _, Vh = torch.linalg.svd(E - mean, full_matrices=False)  # rows of Vh: directions, most spread first
    axes = Vh[:k].T  # (d, k)
    signs = torch.sign(axes.gather(0, axes.abs().argmax(dim=0, keepdim=True)))
    return mean, axes * signs


def project(E, mean: torch.Tensor, axes: torch.Tensor) -> torch.Tensor:
    """(V, d) -> (V, k): coordinates of each word along fixed axes (from principal_axes)."""
    E = _table(E, finite=False)  # a diverged run's NaNs stay NaN on the map
    mean, axes = _as_tensor("mean", mean), _as_tensor("axes", axes)
    if mean.shape != E.shape[1:]:
        fail("mean", f"one number per dimension of E ({E.shape[1]})", mean)
    if axes.ndim != 2 or axes.shape[0] != E.shape[1]:
        fail("axes", f"a ({E.shape[1]}, k) matrix, one row per dimension of E (from principal_axes)", axes)
    return (E - mean.to(E.dtype)) @ axes.to(E.dtype)


# ---- rotations: the axes carry no meaning -------------------------------------------------------
def random_rotation(d: int, seed: int = 0) -> torch.Tensor:
    """A random d × d rotation matrix R (R Rᵀ = I, det R = +1), the same for the same seed."""
    if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 4096:
        raise ValueError(f"d must be a whole number between 1 and 4096, got {d!r}")
    check_int("seed", seed, 0)
    generator = torch.Generator().manual_seed(seed)
    Q, Rtri = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    Q = Q * torch.sign(torch.diagonal(Rtri))  # makes the draw uniform over orthogonal matrices
    if torch.linalg.det(Q) < 0:
        Q[:, 0] = -Q[:, 0]  # a reflection otherwise; flip one axis to make it a rotation
    return Q.float()


@torch.no_grad()
def rotate_tiny_lm(model: nn.Module, R: torch.Tensor) -> nn.Module:
    """A copy of a TinyLM whose word vectors are turned by R and whose hidden layer turns them back.

    Each word vector e (a row) becomes e R. The hidden layer reads the context
    vectors side by side, so each block W_k of its weight (the columns that read
    context word k) becomes W_k R: W_k R (e R)ᵀ = W_k R Rᵀ eᵀ = W_k eᵀ.
    """
    check_tiny_lm(model, exact=True)
    d = model.embed.weight.shape[1]
    R = _as_tensor("R", R, dtype=model.embed.weight.dtype)
    if R.shape != (d, d):
        raise ValueError(f"R must be a {d} × {d} matrix for this model's {d}-number word vectors, got {tuple(R.shape)}")
    if not torch.allclose(R @ R.T, torch.eye(d), atol=1e-4):
        raise ValueError("R must be orthogonal (R Rᵀ = I): make one with random_rotation(d)")
    rotated = copy.deepcopy(model)
    rotated.embed.weight.copy_(model.embed.weight @ R)
    W = model.hidden.weight  # (hidden, context * d)
    blocks = W.view(W.shape[0], -1, d)  # (hidden, context, d)
    rotated.hidden.weight.copy_((blocks @ R).reshape_as(W))
    return rotated


def random_invertible(d: int, seed: int = 0, stretch: float = 3.0) -> torch.Tensor:
    """A random invertible d × d matrix that is no rotation: it stretches some directions up to `stretch` times.

    A = R₁ · diag(s) · R₂ with two random rotations and scales s from 1/stretch to stretch: it changes
    lengths and angles, and is always safely invertible (condition number stretch²).
    """
    if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 4096:
        raise ValueError(f"d must be a whole number between 1 and 4096, got {d!r}")
    check_int("seed", seed, 0)
    check_number("stretch", stretch, 1, 100)
    scales = torch.logspace(-1, 1, d, base=stretch, dtype=torch.float64) if d > 1 else torch.ones(1, dtype=torch.float64)
    R1, R2 = random_rotation(d, seed).double(), random_rotation(d, seed + 1).double()
    return (R1 @ torch.diag(scales) @ R2).float()


@torch.no_grad()
def transform_tiny_lm(model: nn.Module, A: torch.Tensor) -> nn.Module:
    """A copy of a TinyLM whose word vectors are mapped by any invertible A and whose hidden layer undoes it.

    Each word vector e (a row) becomes e A; each block W_k of the hidden weight (the columns that
    read context word k) becomes W_k A⁻ᵀ, since W_k A⁻ᵀ (e A)ᵀ = W_k A⁻ᵀ Aᵀ eᵀ = W_k eᵀ. The model
    computes the same function; lengths and angles between word vectors change unless A is a rotation.
    """
    check_tiny_lm(model, exact=True)
    d = model.embed.weight.shape[1]
    A = _as_tensor("A", A, dtype=torch.float64)
    if A.shape != (d, d):
        raise ValueError(f"A must be a {d} × {d} matrix for this model's {d}-number word vectors, got {tuple(A.shape)}")
    condition = torch.linalg.cond(A) if bool(torch.isfinite(A).all()) else torch.tensor(float("nan"))
    if not bool(condition < 1e6):  # NaN for a zero matrix
        raise ValueError(f"A must be invertible (finite, condition number below 1e6; make one with "
                         f"random_invertible(d)), got a matrix with condition number {float(condition):.3g}")
    changed = copy.deepcopy(model)
    dtype = model.embed.weight.dtype
    changed.embed.weight.copy_((model.embed.weight.double() @ A).to(dtype))
    W = model.hidden.weight.double()  # (hidden, context * d)
    blocks = W.view(W.shape[0], -1, d)  # (hidden, context, d)
    changed.hidden.weight.copy_((blocks @ torch.linalg.inv(A).T).reshape_as(W).to(dtype))
    return changed


# ---- tying: the table used twice ------------------------------------------------------------------
class TiedTinyLM(nn.Module):
    """The TinyLM with its output layer tied to the embedding table, as GPT-2 ties its own (chapter 4).

    The hidden vector is projected back to d numbers and scored against every row of the
    table: logits = proj(h) Eᵀ + bias. Every row of E then takes part in every loss.
    """

    def __init__(self, config: TinyLMConfig):
        super().__init__()
        check_instance("config", config, TinyLMConfig, "a TinyLMConfig")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
        self.hidden = nn.Linear(config.context * config.embed_dim, config.hidden)
        self.proj = nn.Linear(config.hidden, config.embed_dim)  # no (V, hidden) output matrix: E scores the words
        self.out_bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        e = self.embed(X)  # (B, context, embed_dim)
        h = torch.tanh(self.hidden(e.flatten(1)))  # (B, hidden)
        return self.proj(h) @ self.embed.weight.T + self.out_bias  # (B, vocab_size): one score per row of E


def make_tied_tiny_lm(vocab_size: int = 30, seed: int = 0, **config) -> TiedTinyLM:
    """A freshly initialised TiedTinyLM (chapter 4); the same seed gives the same parameters."""
    check_int("seed", seed, 0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    model = TiedTinyLM(TinyLMConfig(vocab_size=vocab_size, **config))
    torch.random.set_rng_state(generator_state)
    return model


# ---- real models ----------------------------------------------------------------------------------
def embedding_share(config: GPT2Config | None = None) -> dict[str, float]:
    """GPT-2's token and position embedding counts and their share of all parameters, from its configuration."""
    if config is not None:
        check_instance("config", config, GPT2Config, "a GPT2Config (or None for GPT-2 small)")
    config = config or GPT2Config()
    parts = gpt2_parameter_formula(config)
    total = sum(parts.values())
    token, position = parts["token embeddings"], parts["position embeddings"]
    return {"token": token, "position": position, "total": total, "share": (token + position) / total}


def parameters_by_vocab_size(sizes, config: GPT2Config | None = None, tied: bool = True) -> list[int]:
    """GPT-2's total parameter count if its vocabulary had each of `sizes` tokens (everything else kept)."""
    if config is not None:
        check_instance("config", config, GPT2Config, "a GPT2Config (or None for GPT-2 small)")
    check_bool("tied", tied)
    if isinstance(sizes, str) or not hasattr(sizes, "__iter__"):
        fail("sizes", "a list of vocabulary sizes", sizes, ArgumentTypeError)
    config = config or GPT2Config()
    counts = []
    for V in sizes:
        check_int("sizes (each vocabulary size)", V, 2, 10_000_000)
        counts.append(sum(gpt2_parameter_formula(replace(config, vocab_size=V, tie_word_embeddings=tied)).values()))
    return counts
