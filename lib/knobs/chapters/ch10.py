"""Chapter 10's code: GPT-2's parameters opened with the book's own tools -- count, look, prune, quantize, adapt.

Every function takes the loaded model (`load()`: GPT-2 small from the Hub when
it can be had, else the offline stand-in in GPT-2's format), so the same
notebook runs on both. The compressions touch the weight matrices of the
transformer blocks only (c_attn, attn.c_proj, c_fc, mlp.c_proj); the token
embedding table, which is also the output layer, and the position embeddings
are stored in fp16, biases and layer norms stay fp32 -- the recipe of
`storage_bytes`, used for every memory number of the chapter.
"""
from __future__ import annotations

import copy
import math
import re
import time
from functools import lru_cache

import numpy as np
import torch

from knobs import data, embeddings, gpt, lora, models, pretrained, prune, timing
from knobs import quantize as Q
from knobs import weightonly as W
from knobs.figures import LABEL_SIZE, LEGEND_SIZE, PALETTE, TICK_SIZE, TITLE_SIZE, style_axes
from knobs.lab import Choice, Lab, Slider
from knobs.lab.views import View
from knobs.train import Snapshot
from knobs.validate import (ArgumentTypeError, check_choice, check_fraction, check_instance, check_int, check_strings,
                            check_tensor, check_text, fail)

GROUP = 32  # weights per scale for "group" granularity: Q4_0's block, so int4-per-group and Q4_0 compare like for like
SPARSITIES = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9)
BITS = (8, 4, 3, 2)
PROMPT = "the cat sleeps in the"  # farm words: both the stand-in and GPT-2's BPE can read it
COMPLETION = 8  # words the lab's model writes after the prompt
PROBE_WORDS = ("cat", "dog", "cow", "horse", "water", "barn")
END_WORD, END_NAME = ".", "⟨end⟩"  # the stand-in's end-of-sentence word, shown by name
GPT2_SMALL_TOTAL = sum(models.gpt2_parameter_formula(models.GPT2Config()).values())  # chapter 1: 124,439,808


# ---- what the notebook passes, checked (the book's one rule for bad arguments: knobs.validate) ---------------------
def _lm(lm) -> pretrained.LoadedGPT:
    return check_instance("lm", lm, pretrained.LoadedGPT, "a loaded model, as ch10.load() returns it")


def _model(model) -> gpt.GPT:
    return check_instance("model", model, gpt.GPT, "a knobs.gpt GPT (lm.model)")


def _ids(ids) -> torch.Tensor:
    try:
        ids = torch.as_tensor(ids)
    except (TypeError, ValueError, RuntimeError):
        fail("ids", "token ids (a list or a 1-D tensor of whole numbers)", ids, ArgumentTypeError)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool or ids.dim() != 1 or len(ids) < 1:
        fail("ids", "token ids (a list or a 1-D tensor of whole numbers)", ids, ArgumentTypeError)
    return ids.long()


def _keys(name: str, value, keys, what: str) -> dict:
    if not isinstance(value, dict) or any(k not in value for k in keys):
        fail(name, f"{what} (a dict with {', '.join(map(repr, keys))})", value, ArgumentTypeError)
    return value


# ---- the model, and which one it is ------------------------------------------------------------------------
@lru_cache(maxsize=2)
def load(prefer: str = "hub") -> pretrained.LoadedGPT:
    """GPT-2 small when the Hub or the local cache has it, else the stand-in (once per session; chapter 10)."""
    return pretrained.load_gpt2(prefer=prefer)


def is_gpt2(lm) -> bool:
    return lm.name == "gpt2"


def which_model(lm) -> str:
    """The one visible line saying which model the chapter looks at, and why."""
    _lm(lm)
    n = sum(p.numel() for p in lm.model.parameters())
    c = lm.model.config
    if is_gpt2(lm):
        return f"This chapter looks at GPT-2 small: {n:,} parameters, {lm.reason}."
    why = lm.reason.removeprefix("GPT-2 unavailable: ")
    return (f"This chapter looks at the stand-in, a {c.n_layer}-layer GPT-2 of {n:,} parameters trained on the farm "
            f"corpus, because GPT-2 itself could not be loaded here ({why}). Where the Hugging Face Hub is "
            "reachable (Colab, Binder) the same cells load GPT-2 small.")


def heldout_ids(lm) -> torch.Tensor:
    """The shipped held-out text (knobs/standin/heldout.txt) in the loaded model's tokens."""
    _lm(lm)
    return torch.tensor(lm.tokenizer.encode(pretrained.heldout_text()))


def show_token(lm, token_id: int) -> str:
    """A token as the book shows it: its text without the leading space, the sentence end by name."""
    text = lm.tokenizer.decode([int(token_id)])
    return END_NAME if text == END_WORD else (text.strip() or repr(text))


def token_of(lm, word: str) -> int:
    """The one token id of `word` (GPT-2's BPE: the word with its leading space, as in running text)."""
    ids = lm.tokenizer.encode(word if isinstance(lm.tokenizer, pretrained.WordTokenizer) else " " + word)
    if len(ids) != 1:
        raise ValueError(f"word {word!r} is {len(ids)} tokens for this tokenizer; pick a word that is one token")
    return ids[0]


EVALUATIONS = {"count": 0, "tokens": 0}  # every perplexity the chapter computes (for the GPT-2 time estimate)


def perplexity(model: gpt.GPT, ids) -> float:
    """gpt.perplexity, counted: how many evaluations of how many tokens this run made."""
    EVALUATIONS["count"] += 1
    EVALUATIONS["tokens"] += len(ids)
    return gpt.perplexity(model, ids)


# ---- 1. counting --------------------------------------------------------------------------------------------------
def formula_config(c: gpt.GPTConfig) -> models.GPT2Config:
    """Chapter 1's configuration object for a loaded model (its formula assumes an MLP 4x wide, as GPT-2's)."""
    if c.n_inner not in (None, 4 * c.n_embd):
        raise ValueError(f"chapter 1's formula assumes an MLP of 4 x n_embd = {4 * c.n_embd}, got n_inner={c.n_inner}")
    return models.GPT2Config(vocab_size=c.vocab_size, n_positions=c.n_positions, n_embd=c.n_embd,
                             n_layer=c.n_layer, n_head=c.n_head, tie_word_embeddings=c.tie_word_embeddings)


def count_rows(model: gpt.GPT) -> list[tuple[str, int, int]]:
    """(part, counted from the loaded tensors, computed from the configuration) for every part of GPT-2."""
    _model(model)
    counted = gpt.parameter_groups(model)
    formula = models.gpt2_parameter_formula(formula_config(model.config))
    return [(part, counted[part], formula[part]) for part in formula]


def tying(model: gpt.GPT) -> dict:
    """What tying means on the real tensors: one object, one block of memory, V x d parameters saved."""
    _model(model)
    head, table = model.lm_head.weight, model.transformer.wte.weight
    return {"same_object": head is table, "same_memory": head.data_ptr() == table.data_ptr(),
            "shape": tuple(table.shape), "saved": table.numel() if head is table else 0}


def file_keys(lm) -> list[str]:
    """The tensor names stored in the loaded model's model.safetensors (without loading them)."""
    _lm(lm)
    from pathlib import Path

    from safetensors import safe_open

    with safe_open(str(Path(lm.source) / "model.safetensors"), framework="pt") as f:
        return list(f.keys())


# ---- 2. the weights -------------------------------------------------------------------------------------------------
KINDS = ("attention", "MLP", "layer-norm gains", "biases", "token embeddings", "position embeddings")


def weight_kind(name: str) -> str:
    """Which kind of parameter a GPT-2 tensor is, by its name."""
    if name.startswith("transformer.wte.") or name.startswith("lm_head."):
        return "token embeddings"
    if name.startswith("transformer.wpe."):
        return "position embeddings"
    if name.endswith(".bias"):
        return "biases"
    if ".ln_" in name:
        return "layer-norm gains"
    return "attention" if ".attn." in name else "MLP"


def values_by_kind(model: gpt.GPT) -> dict[str, np.ndarray]:
    groups = {kind: [] for kind in KINDS}
    for name, p in model.named_parameters():
        groups[weight_kind(name)].append(p.detach().float().ravel())
    return {kind: torch.cat(v).numpy() for kind, v in groups.items()}


def kurtosis(x) -> float:
    """E[(x - mean)^4] / std^4: 3 for a Gaussian, larger when rare values lie far out (heavy tails)."""
    x = torch.as_tensor(x, dtype=torch.float64).ravel()
    std = x.std(unbiased=False)
    if std == 0:
        return float("nan")  # all values equal: no spread, no tails
    z = (x - x.mean()) / std
    return float((z ** 4).mean())


def block_matrices(model: gpt.GPT) -> list[str]:
    """The weight matrices inside the transformer blocks: what pruning and quantization change here."""
    return [name for name, p in model.named_parameters() if p.dim() == 2 and ".h." in name]


MATRIX_KINDS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


def matrix_stats(model: gpt.GPT) -> list[dict]:
    """Per block matrix: its layer and kind, std, largest |w| in stds, and kurtosis."""
    _model(model)
    rows = []
    for name in block_matrices(model):
        w = model.get_parameter(name).detach()
        rows.append({"name": name, "layer": int(name.split(".")[2]), "kind": next(k for k in MATRIX_KINDS if k in name),
                     "std": float(w.std()), "max_in_std": float(w.abs().max() / w.std()), "kurtosis": kurtosis(w)})
    return rows


def largest_weights(model: gpt.GPT, k: int = 5, kinds=("attention", "MLP")) -> list[dict]:
    """The k largest |w| among the matrices of `kinds`, each with its place and its size in stds of its tensor."""
    _model(model)
    check_int("k", k, 1)
    kinds = check_strings("kinds", kinds)
    if any(kind not in KINDS for kind in kinds):
        fail("kinds", f"kinds of parameter among {KINDS}", kinds)
    found = []
    for name, p in model.named_parameters():
        if weight_kind(name) in kinds and p.dim() == 2:
            w = p.detach()
            values, flat = torch.topk(w.abs().ravel(), min(k, w.numel()))
            for v, i in zip(values.tolist(), flat.tolist()):
                found.append({"name": name, "index": tuple(divmod(i, w.shape[1])), "value": float(w.ravel()[i]),
                              "in_std": v / float(w.std())})
    return sorted(found, key=lambda r: -abs(r["value"]))[:k]


@torch.no_grad()
def residual_magnitudes(model: gpt.GPT, ids) -> torch.Tensor:
    """(n_layer + 1, T, d): |h| of every token and dimension of the residual stream, after the embeddings and after
    each block, over the first window of `ids` (its first n_positions tokens, the first token included)."""
    _model(model)
    ids = _ids(ids)
    x = torch.as_tensor(ids)[: model.config.n_positions][None]  # (1, T): the first window of the text
    T = x.shape[1]
    h = model.transformer.wte(x) + model.transformer.wpe(torch.arange(T))  # (1, T, d)
    rows = [h[0].abs()]
    for block in model.transformer.h:
        h = block(h)
        rows.append(h[0].abs())
    return torch.stack(rows)


def outlier_summary(magnitudes: torch.Tensor) -> dict:
    """The single largest activation |h[t, i]| of each layer over that layer's median |h| (massive activations are
    single scalars: one dimension at one token), and where the largest of all sits: layer, token, dimension."""
    check_tensor("magnitudes", magnitudes, floating=True, dim=3)
    flat = magnitudes.flatten(1)  # (layers, T * d)
    per_layer = (flat.amax(dim=1) / flat.median(dim=1).values).tolist()
    layer = int(torch.tensor(per_layer).argmax())
    token, dim = divmod(int(flat[layer].argmax()), magnitudes.shape[2])
    return {"ratio": per_layer[layer], "layer": layer, "token": token, "dim": dim, "per_layer": per_layer,
            "last_ratio": per_layer[-1], "tokens": magnitudes.shape[1]}


def outlier_verdict(ratio: float) -> str:
    """Does any single activation stand out, judged by the largest |h| over the median |h| of its layer?"""
    if ratio < 8:
        return "no activation stands out: the largest is a few times the median, as among as many Gaussian values"
    if ratio < 100:
        return "a few activations stand out above the rest, but not by orders of magnitude"
    return "a few activations are orders of magnitude larger than the rest: massive activations"


def gaussian_verdict(kurtoses) -> str:
    """What the matrices' kurtosis says about 'weights are Gaussian' (a Gaussian has kurtosis 3)."""
    high = max(kurtoses)
    if high < 3.5:
        return "close to Gaussian: no matrix has markedly heavier tails than a bell curve"
    if high < 6:
        return "bell-shaped but with heavier tails than a Gaussian in some matrices"
    return "far from Gaussian in some matrices: rare weights lie much farther out than a bell curve allows"


def weight_histograms(model: gpt.GPT):
    """One histogram per kind of parameter (log counts), each with the Gaussian of the same mean and spread."""
    _model(model)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    values = values_by_kind(model)
    fig, axes = plt.subplots(2, 3, figsize=(9.4, 4.6), layout="constrained")
    parts = []
    for ax, (kind, v) in zip(axes.flat, values.items()):
        mean, std = float(v.mean()), float(v.std())
        span = float(np.abs(v - mean).max()) * 1.05 or 1.0
        edges = np.linspace(mean - span, mean + span, 61)
        counts, _ = np.histogram(v, edges)
        ax.stairs(counts, edges, fill=True, color=PALETTE[0], alpha=0.85)
        centers = (edges[:-1] + edges[1:]) / 2
        if std > 0:  # a tensor of equal values (a fresh model's layer norms) has no bell curve to compare with
            gauss = len(v) * (edges[1] - edges[0]) * np.exp(-0.5 * ((centers - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
            ax.plot(centers, gauss, "--", color=PALETTE[5], lw=1.2, label="Gaussian, same std")
        ax.set_yscale("log")
        ax.set_ylim(0.5, max(counts.max(), 1) * 30)  # head room for the kurtosis and the legend
        ax.xaxis.set_major_locator(MaxNLocator(3))
        k = kurtosis(v)
        style_axes(ax, f"{kind} ({len(v):,})", xlabel="value")
        ax.text(0.03, 0.95, f"kurtosis {k:.1f}" if k == k else "all equal", transform=ax.transAxes, va="top",
                fontsize=LEGEND_SIZE)
        parts.append(f"{kind}: {len(v):,} values, std {std:.3g}, kurtosis {k:.1f}")
    axes.flat[0].set_ylabel("count (log)", fontsize=LABEL_SIZE)
    axes.flat[3].set_ylabel("count (log)", fontsize=LABEL_SIZE)
    axes.flat[0].legend(fontsize=LEGEND_SIZE, loc="upper right", frameon=False)
    alt = ("Histograms of the model's parameters by kind, counts on a log scale, each with the Gaussian of the same "
           "spread dashed (kurtosis 3 is Gaussian). " + "; ".join(parts) + ".")
    return fig, alt


def matrix_figure(stats: list[dict]):
    """Largest |w| (in stds) and kurtosis of every block matrix, by layer and kind."""
    if not isinstance(stats, list) or not stats or not all(isinstance(r, dict) and {"name", "layer", "kind", "max_in_std", "kurtosis"} <= set(r) for r in stats):
        fail("stats", "the rows of ch10.matrix_stats(model)", stats, ArgumentTypeError)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.4, 3.6), layout="constrained")  # the legend below, off the points
    layers = sorted({r["layer"] for r in stats})
    for i, kind in enumerate(MATRIX_KINDS):
        rows = [r for r in stats if r["kind"] == kind]
        for ax, key in zip(axes, ("max_in_std", "kurtosis")):
            ax.plot([r["layer"] for r in rows], [r[key] for r in rows], "-o", ms=4, color=PALETTE[i], label=kind)
    axes[1].axhline(3, color="#555", ls=":", lw=1, label="Gaussian (3)")
    style_axes(axes[0], "largest |w|, in standard deviations", xlabel="block", ylabel="max |w| / std")
    style_axes(axes[1], "kurtosis (tails)", xlabel="block", ylabel="kurtosis")
    for ax in axes:
        ax.set_xticks(layers)
    axes[1].legend(fontsize=LEGEND_SIZE, frameon=False, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.3))
    worst = max(stats, key=lambda r: r["kurtosis"])
    widest = max(stats, key=lambda r: r["max_in_std"])
    alt = (f"Two line charts over the {len(layers)} blocks, one line per matrix kind. The largest weight of a matrix "
           f"lies between {min(r['max_in_std'] for r in stats):.1f} and {widest['max_in_std']:.1f} standard "
           f"deviations from zero (most: {widest['name']}); kurtosis ranges from "
           f"{min(r['kurtosis'] for r in stats):.1f} to {worst['kurtosis']:.1f} ({worst['name']}); a Gaussian has 3.")
    return fig, alt


def outlier_figure(magnitudes: torch.Tensor):
    """Left: per layer, the largest single |h| over the layer's median |h|. Right: at the layer where that ratio is
    largest, each dimension's largest |h| over the tokens (a max, not a mean: one token's spike is not averaged away)."""
    summary = outlier_summary(magnitudes)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9.4, 2.8), layout="constrained")
    ratios = summary["per_layer"]
    names = ["emb"] + [str(i) for i in range(len(ratios) - 1)]
    axes[0].plot(range(len(ratios)), ratios, "-o", ms=4, color=PALETTE[0])
    axes[0].set_xticks(range(len(ratios)), names)
    axes[0].set_ylim(0, max(ratios) * 1.15)
    style_axes(axes[0], "largest |h| / median |h|", xlabel="after block", ylabel="ratio")
    layer = summary["layer"]
    peak = magnitudes[layer].amax(dim=0).numpy()  # (d,)
    axes[1].bar(np.arange(len(peak)), peak, width=1.0, color=PALETTE[0])
    axes[1].axhline(float(magnitudes[layer].median()), color=PALETTE[5], ls="--", lw=1, label="median |h|")
    axes[1].set_xlim(-0.5, len(peak) - 0.5)
    style_axes(axes[1], "max over tokens, " + ("after the embeddings" if layer == 0 else f"after block {layer - 1}"), xlabel=f"dimension (of {len(peak)})",
               ylabel="max |h|")
    axes[1].legend(fontsize=LEGEND_SIZE, frameon=False, loc="upper left", bbox_to_anchor=(0.0, 1.0))
    alt = (f"Left: for the embeddings and each of the {len(ratios) - 1} blocks, the largest absolute activation of the "
           f"residual stream over its median, on the first {summary['tokens']} tokens of the held-out text: from "
           f"{min(ratios):.1f} to {max(ratios):.1f}. Right: after {'the embeddings' if layer == 0 else 'block ' + names[layer]}, each dimension's largest absolute "
           f"value over those tokens; the largest, dimension {summary['dim']} at token {summary['token']}, is "
           f"{summary['ratio']:.1f} times the median.")
    return fig, alt


# ---- 3. embeddings ----------------------------------------------------------------------------------------------------
def nearest_tokens(lm, word: str, k: int = 4) -> list[tuple[str, float]]:
    """The k tokens whose rows of the (tied) embedding table point most nearly the way `word`'s does."""
    _lm(lm)
    check_text("word", word, empty=False)
    check_int("k", k, 1, lm.model.config.vocab_size - 1)
    E = lm.model.transformer.wte.weight.detach()
    i = token_of(lm, word)
    sims = embeddings.cosine_similarity(E, E[i])
    sims[i] = -float("inf")
    top = torch.topk(sims, k)
    return [(show_token(lm, j), float(s)) for s, j in zip(top.values, top.indices)]


def probe_cosines(lm, words=PROBE_WORDS) -> torch.Tensor:
    """(len(words), len(words)) cosine similarities of the words' embedding rows."""
    E = lm.model.transformer.wte.weight.detach()
    return embeddings.similarity_matrix(E[[token_of(lm, w) for w in words]])


@torch.no_grad()
def tied_prediction(lm, context: str, k: int = 3) -> dict:
    """Top-k next tokens from the model's logits, and from the dot product of its last hidden state with wte."""
    _lm(lm)
    check_text("context", context, empty=False)
    check_int("k", k, 1, lm.model.config.vocab_size)
    model = lm.model
    ids = torch.tensor(lm.tokenizer.encode(context))[None]
    T = ids.shape[1]
    h = model.transformer.wte(ids) + model.transformer.wpe(torch.arange(T))
    for block in model.transformer.h:
        h = block(h)
    last = model.transformer.ln_f(h)[0, -1]  # (d,): what the output layer reads
    by_dot = last @ model.transformer.wte.weight.T  # (V,): the last state against every token's embedding row
    logits = model(ids)[0, -1]
    probs = torch.softmax(logits, -1)
    return {"by_logits": [(show_token(lm, int(j)), float(probs[j])) for j in torch.topk(logits, k).indices],
            "by_embedding": [show_token(lm, int(j)) for j in torch.topk(by_dot, k).indices],
            "equal": bool(torch.allclose(by_dot, logits))}


def cosine_figure(lm, words=PROBE_WORDS):
    """Cosine similarities of a few words' embedding rows, as a heatmap."""
    _lm(lm)
    words = check_strings("words", words, empty=False)
    if len(words) < 2:
        fail("words", "at least 2 words", words)
    import matplotlib.pyplot as plt

    S = probe_cosines(lm, words).numpy()
    # one image that fits a phone (figures.PHONE_WIDTH): each cell still holds "-0.25" at the book's tick size
    fig, ax = plt.subplots(figsize=(4.95, 4.3), layout="constrained")
    image = ax.imshow(S, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(words)), words, rotation=45, fontsize=TICK_SIZE)
    ax.set_yticks(range(len(words)), words, fontsize=TICK_SIZE)
    for i in range(len(words)):
        for j in range(len(words)):
            ax.text(j, i, f"{S[i, j] + 0.0:.2f}".replace("-0.00", "0.00"), ha="center", va="center", fontsize=TICK_SIZE,
                    color="white" if abs(S[i, j]) > 0.6 else "black")
    ax.set_title("cosine of embedding rows", fontsize=TITLE_SIZE)
    fig.colorbar(image, ax=ax, shrink=0.8)
    off = [(words[i], words[j], S[i, j]) for i in range(len(words)) for j in range(i + 1, len(words))]
    hi, lo = max(off, key=lambda t: t[2]), min(off, key=lambda t: t[2])
    alt = (f"Heatmap of cosine similarities between the embedding rows of {', '.join(words)}. Most similar pair: "
           f"{hi[0]} and {hi[1]} ({hi[2]:.2f}); least: {lo[0]} and {lo[1]} ({lo[2]:.2f}).")
    return fig, alt


# ---- 4. and 5. compressing the blocks ---------------------------------------------------------------------------------
COMPRESSIONS = {"copy": 0, "prune": 0, "quantize": 0}  # what the chapter's compressions did (GPT-2 estimate)


@torch.no_grad()
def _threshold_mask(scores: torch.Tensor, k: int) -> torch.Tensor | None:
    """1 where |w| is above the k-th smallest |w|; None when weights tie at that threshold (k would be missed)."""
    if k == 0:
        return torch.ones_like(scores)
    threshold = torch.kthvalue(scores.flatten(), k).values  # a selection, not a sort: fast on millions of weights
    mask = (scores > threshold).to(scores.dtype)
    return mask if int((mask == 0).sum()) == k else None


@torch.no_grad()
def magnitude_masks(params: dict[str, torch.Tensor], sparsity: float, kind: str = "layer-wise") -> dict:
    """Chapter 5's magnitude masks of `params` ('layer-wise': each matrix, 'global': one threshold for all), found
    by a threshold: the same masks as knobs.prune's topk (tested), several times faster on GPT-2's 85 million block
    weights. Where weights tie at the threshold, knobs.prune decides which of them go."""
    sparsity = prune.check_sparsity(sparsity)
    if kind == "global":
        flat = torch.cat([w.detach().abs().flatten() for w in params.values()])
        mask = _threshold_mask(flat, prune.count_to_prune(sparsity, flat.numel()))
        if mask is None:
            return prune.global_magnitude_masks(params, sparsity)
        sizes = [w.numel() for w in params.values()]
        return {name: part.view_as(w) for (name, w), part in zip(params.items(), mask.split(sizes))}
    masks = {}
    for name, w in params.items():
        scores = w.detach().abs()
        mask = _threshold_mask(scores, prune.count_to_prune(sparsity, w.numel()))
        masks[name] = prune.magnitude_mask(w, sparsity) if mask is None else mask
    return masks


@torch.no_grad()
def compress(model: gpt.GPT, sparsity: float = 0.0, kind: str = "layer-wise", bits: int | None = None,
             granularity: str = "group", fmt: str | None = None) -> gpt.GPT:
    """A copy of `model` with its block matrices pruned (by magnitude) and/or quantized, the rest as in the recipe.

    kind: 'layer-wise' (each matrix loses `sparsity` of its weights) or 'global' (one threshold for all);
    bits + granularity: symmetric integers with an fp16 scale per tensor, row or group of GROUP weights (chapter 6);
    fmt: 'Q4_0' or 'Q8_0' instead (ggml's formats, knobs.weightonly). Quantizing also stores the embeddings in fp16.
    """
    if kind not in ("layer-wise", "global"):
        raise ValueError(f"kind must be 'layer-wise' or 'global', got {kind!r}")
    if bits is not None and fmt is not None:
        raise ValueError("give bits (with a granularity) or fmt, not both")
    COMPRESSIONS["copy"] += 1
    COMPRESSIONS["prune"] += bool(sparsity)
    COMPRESSIONS["quantize"] += bits is not None or fmt is not None
    out = copy.deepcopy(model)
    params = {name: out.get_parameter(name) for name in block_matrices(out)}
    sparsity = prune.check_sparsity(sparsity)
    if sparsity:
        masks = magnitude_masks(params, sparsity, kind)
        for name, w in params.items():
            w.mul_(masks[name])
    if bits is not None or fmt is not None:
        for w in params.values():
            w.copy_(W.fake_quantize_blocks(w, fmt) if fmt else Q.fake_quantize(w, bits, "symmetric", granularity, GROUP))
        for table in (out.transformer.wte.weight, out.transformer.wpe.weight):
            table.copy_(table.half().float())  # the embeddings are stored in fp16 (tied: the output layer too)
    return out


_MEMO: dict = {}  # id(lm) -> (lm, {result name: value}): a LoadedGPT is a dataclass, not hashable


def _memo(lm, name: str, compute):
    """`compute()` once per loaded model and name (the sweeps are shared by the chapter and its lab)."""
    _, results = _MEMO.setdefault(id(lm), (lm, {}))
    if name not in results:
        results[name] = compute()
    return results[name]


def float_perplexity(lm) -> float:
    """The uncompressed model's perplexity on the held-out text (computed once)."""
    return _memo(lm, "float", lambda: perplexity(lm.model, heldout_ids(lm)))


def prune_sweep(lm) -> dict:
    """Held-out perplexity after magnitude pruning the block matrices, layer-wise and global, at SPARSITIES."""
    _lm(lm)
    return _memo(lm, "prune", lambda: _prune_sweep(lm))


def _prune_sweep(lm) -> dict:
    ids = heldout_ids(lm)
    out = {"sparsity": list(SPARSITIES), "dense": float_perplexity(lm), "tokens": len(ids), "gpt2": is_gpt2(lm)}
    for kind in ("layer-wise", "global"):
        out[kind] = [perplexity(compress(lm.model, s, kind), ids) for s in SPARSITIES]
    return out


def global_shares(model: gpt.GPT, sparsity: float = 0.5) -> dict[str, float]:
    """Fraction of each matrix kind that one global magnitude threshold prunes (layer-wise: `sparsity` each)."""
    _model(model)
    check_fraction("sparsity", sparsity)
    params = {name: model.get_parameter(name) for name in block_matrices(model)}
    masks = magnitude_masks(params, sparsity, "global")
    shares = {}
    for kind in MATRIX_KINDS:
        names = [n for n in masks if kind in n]
        shares[kind] = sum(int((masks[n] == 0).sum()) for n in names) / sum(masks[n].numel() for n in names)
    return shares


def plain_log_ticks(ax) -> None:
    """Tick labels of a log y axis as plain numbers (2, 3, 5, 10, 20), not powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(LogLocator(subs=(3.0,)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def prune_figure(sweep: dict):
    """Perplexity against sparsity, layer-wise and global (the result of prune_sweep)."""
    _keys("sweep", sweep, ("sparsity", "dense", "layer-wise", "global"), "the result of ch10.prune_sweep(lm)")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.95, 3.0), layout="constrained")  # one column fits a phone (figures.PHONE_WIDTH)
    x = [100 * s for s in sweep["sparsity"]]
    for i, kind in enumerate(("layer-wise", "global")):
        ax.plot(x, sweep[kind], "-o", ms=4, color=PALETTE[i], label=kind)
    ax.axhline(sweep["dense"], color="#555", ls=":", lw=1, label="not pruned")
    ax.set_yscale("log")
    plain_log_ticks(ax)
    style_axes(ax, "perplexity on the held-out text", xlabel="block weights pruned (%)", ylabel="perplexity (log)")
    ax.legend(fontsize=LEGEND_SIZE, frameon=False)
    lw, gl = sweep["layer-wise"], sweep["global"]
    alt = (f"Perplexity against the share of block weights pruned by magnitude, log scale. Unpruned: "
           f"{sweep['dense']:.2f}. Layer-wise: {lw[0]:.2f} at {x[0]:.0f}% to {lw[-1]:.2f} at {x[-1]:.0f}%; "
           f"global: {gl[0]:.2f} to {gl[-1]:.2f}.")
    return fig, alt


def pruning_time(lm, sparsity: float = 0.5, rounds: int = 15) -> dict:
    """Seconds for one forward pass over the held-out windows, dense and with `sparsity` of the block weights zero."""
    _lm(lm)
    check_fraction("sparsity", sparsity)
    check_int("rounds", rounds, 1, 1000)
    ids = heldout_ids(lm)
    T = lm.model.config.n_positions
    X = torch.stack([ids[s:s + T] for s in range(0, len(ids) - T + 1, T)]) if len(ids) >= T else ids[None]
    pruned = compress(lm.model, sparsity)
    big = sum(p.numel() for p in lm.model.parameters()) > 10_000_000  # GPT-2: a call takes seconds, not ms
    return timing.compare_seconds({"dense": lambda: lm.model(X), "pruned": lambda: pruned(X)},
                                  rounds=3 if big else rounds, number=1 if big else None, min_run_time=0.03)


def quantize_sweep(lm) -> dict:
    """Held-out perplexity with the block matrices at BITS bits per tensor / channel / group, and in Q4_0 and Q8_0."""
    _lm(lm)
    return _memo(lm, "quantize", lambda: _quantize_sweep(lm))


def _quantize_sweep(lm) -> dict:
    ids = heldout_ids(lm)
    out = {"bits": list(BITS), "float": float_perplexity(lm), "scale_bits": scale_bits(lm.model.config)}
    for granularity in Q.GRANULARITIES:
        out[granularity] = [perplexity(compress(lm.model, bits=b, granularity=granularity), ids) for b in BITS]
    for fmt in W.FORMATS:
        out[fmt] = perplexity(compress(lm.model, fmt=fmt), ids)
    return out


def scale_bits(c: gpt.GPTConfig) -> dict[str, float]:
    """Bits the fp16 scales add per block weight, per granularity (a group of 32: half a bit, as Q4_0's)."""
    n = parameter_parts(c)["block matrices"]
    return {g: 8 * storage_bytes(c, "int", 4, g)["scales"] / n for g in Q.GRANULARITIES}


def quantize_figure(sweep: dict):
    """Perplexity against bits for each granularity, with Q4_0 and Q8_0 (the result of quantize_sweep)."""
    _keys("sweep", sweep, ("bits", "float", "Q4_0", "Q8_0") + Q.GRANULARITIES, "the result of ch10.quantize_sweep(lm)")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.95, 3.0), layout="constrained")  # one column fits a phone (figures.PHONE_WIDTH)
    styles = {"tensor": (PALETTE[5], "-"), "channel": (PALETTE[2], "--"), "group": (PALETTE[3], ":")}
    extra = sweep.get("scale_bits", dict.fromkeys(Q.GRANULARITIES, 0.0))
    for g, (color, line) in styles.items():
        ax.plot([b + extra[g] for b in sweep["bits"]], sweep[g], line, marker="o", ms=4, color=color,
                label=f"per {g}" + (f" of {GROUP}" if g == "group" else ""))
    ax.plot([4.5], [sweep["Q4_0"]], "D", color="black", ms=6, label="Q4_0 (4.5 bits)")
    ax.plot([8.5], [sweep["Q8_0"]], "s", color="black", ms=5, label="Q8_0 (8.5 bits)")
    ax.axhline(sweep["float"], color="#555", ls=":", lw=1, label="fp32")
    ax.set_yscale("log")
    plain_log_ticks(ax)
    ax.set_xlim(8.9, 1.7)  # fewer bits to the right; Q8_0's 8.5 bits inside the frame
    style_axes(ax, "perplexity on the held-out text", xlabel="bits per block weight, scales included",
               ylabel="perplexity (log)")
    ax.legend(fontsize=LEGEND_SIZE, frameon=False, ncol=2)
    two = {g: sweep[g][sweep["bits"].index(2)] for g in Q.GRANULARITIES}
    alt = (f"Perplexity against bits per weight, scales included (a scale per group of {GROUP} adds half a bit), "
           f"from 8.5 down to 2, log scale, one line per scale granularity. fp32: "
           f"{sweep['float']:.2f}. At 2 bits: per tensor {two['tensor']:.2f}, per channel {two['channel']:.2f}, "
           f"per group {two['group']:.2f}. Q4_0: {sweep['Q4_0']:.2f}; Q8_0: {sweep['Q8_0']:.2f}.")
    return fig, alt


# ---- memory, from the shapes alone (so GPT-2 small's is computed without its weights) ----------------------------
def matrix_shapes(c: gpt.GPTConfig) -> list[tuple[int, int]]:
    """(rows, columns) of every block matrix, as nn.Linear stores them: (out, in)."""
    d, inner = c.n_embd, c.n_inner or 4 * c.n_embd
    return [(3 * d, d), (d, d), (inner, d), (d, inner)] * c.n_layer


def parameter_parts(c: gpt.GPTConfig) -> dict[str, int]:
    """Parameters in the block matrices, the embedding tables (tied head included once), and everything else."""
    matrices = sum(r * k for r, k in matrix_shapes(c))
    tables = c.vocab_size * c.n_embd + c.n_positions * c.n_embd + (0 if c.tie_word_embeddings else c.vocab_size * c.n_embd)
    total = sum(models.gpt2_parameter_formula(formula_config(c)).values())
    return {"block matrices": matrices, "embeddings": tables, "vectors": total - matrices - tables}


SETTINGS = ("fp32", "fp16", "Q8_0", "Q4_0", "4 bits, nothing else")


def storage_bytes(c: gpt.GPTConfig, setting: str = "fp32", bits: int | None = None,
                  granularity: str = "group") -> dict[str, float]:
    """Bytes per part in a storage setting: 'fp32', 'fp16', 'Q8_0', 'Q4_0', '4 bits, nothing else' (the naive claim),
    or 'int' with `bits` and `granularity` (the lab's). Quantized settings keep embeddings in fp16, vectors in fp32."""
    parts = parameter_parts(c)
    if setting == "fp32":
        return {"block matrices": 4.0 * parts["block matrices"], "scales": 0.0, "embeddings": 4.0 * parts["embeddings"],
                "vectors": 4.0 * parts["vectors"]}
    if setting == "fp16":
        return {k: (0.0 if k == "scales" else 2.0 * parts.get(k, 0)) for k in ("block matrices", "scales", "embeddings",
                                                                            "vectors")}
    if setting == "4 bits, nothing else":
        return {"block matrices": 0.5 * parts["block matrices"], "scales": 0.0, "embeddings": 0.5 * parts["embeddings"],
                "vectors": 0.5 * parts["vectors"]}
    if setting in W.FORMATS:
        code_bits = 4 if setting == "Q4_0" else 8
        n_scales = parts["block matrices"] / W.BLOCK
    elif setting == "int":
        if bits is None or granularity not in Q.GRANULARITIES:
            raise ValueError("setting 'int' needs bits and a granularity (tensor, channel or group)")
        code_bits = bits
        shapes = matrix_shapes(c)
        n_scales = {"tensor": len(shapes), "channel": sum(r for r, _ in shapes),
                    "group": parts["block matrices"] / GROUP}[granularity]
    else:
        raise ValueError(f"setting must be one of {SETTINGS + ('int',)}, got {setting!r}")
    return {"block matrices": code_bits / 8 * parts["block matrices"], "scales": 2.0 * n_scales,
            "embeddings": 2.0 * parts["embeddings"], "vectors": 4.0 * parts["vectors"]}


def memory_table(c: gpt.GPTConfig) -> dict[str, float]:
    """Total bytes in each of SETTINGS."""
    check_instance("c", c, gpt.GPTConfig, "a GPTConfig (model.config)")
    return {s: sum(storage_bytes(c, s).values()) for s in SETTINGS}


# ---- 6. LoRA ---------------------------------------------------------------------------------------------------------
LORA_TARGETS = ("attn.c_attn", "attn.c_proj")


def lora_from_modules(model: gpt.GPT, rank: int) -> int:
    """Trainable numbers of rank-r adapters on every attention projection, read from the model's own layers."""
    total = 0
    for name, module in model.named_modules():
        if name.endswith(LORA_TARGETS) and isinstance(module, torch.nn.Linear):
            total += lora.lora_parameter_count(module.in_features, module.out_features, rank)
    return total


def lora_rows(model: gpt.GPT, ranks=(1, 4, 8, 16, 64)) -> list[tuple[int, int, float]]:
    """(rank, trainable parameters, share of the model) for LoRA on the attention projections."""
    _model(model)
    if isinstance(ranks, (str, bytes)) or not hasattr(ranks, "__iter__"):
        fail("ranks", "a list of whole numbers 1 or more", ranks, ArgumentTypeError)
    ranks = [check_int("ranks", r, 1, must="a list of whole numbers 1 or more") for r in ranks]
    n = sum(p.numel() for p in model.parameters())
    return [(r, lora_from_modules(model, r), lora_from_modules(model, r) / n) for r in ranks]


# ---- the lab: compress the blocks, see perplexity, memory and the completion -----------------------------------------
def float_completion(lm) -> list[int]:
    """The fp32 model's greedy continuation of PROMPT (token ids)."""
    ids = lm.tokenizer.encode(PROMPT)
    return _memo(lm, "completion", lambda: gpt.generate(lm.model, ids, COMPLETION)[len(ids):])


def compression_run(values, steps, every):
    """Compress the loaded model as the knobs say; step 0 measures it, each later step writes one more word."""
    lm = load()
    bits, granularity, sparsity = values["bits"], values["granularity"], values["sparsity"] / 100
    counted = dict(COMPRESSIONS)
    model = compress(lm.model, sparsity, "layer-wise", bits=bits, granularity=granularity)
    COMPRESSIONS.update(counted)  # the lab's compressions are not the chapter's cells': not counted (nor are its
    ppl = gpt.perplexity(model, heldout_ids(lm))  # evaluations), so the estimate does not depend on a twin
    memory = storage_bytes(model.config, "int", bits, granularity)
    info = {"sweep": quantize_sweep(lm), "prune": prune_sweep(lm), "bits": bits, "granularity": granularity,
            "sparsity": sparsity, "memory": memory, "fp32_bytes": sum(storage_bytes(model.config).values()),
            "float_words": [show_token(lm, t) for t in float_completion(lm)], "prompt": PROMPT}
    context = lm.tokenizer.encode(PROMPT)
    words = []
    metrics = {"perplexity": ppl, "float_perplexity": float_perplexity(lm)}
    for step in range(0, steps + 1):
        if step:
            with torch.no_grad():
                next_id = int(model(torch.tensor(context[-model.config.n_positions:])[None])[0, -1].argmax())
            context.append(next_id)
            words.append(show_token(lm, next_id))
        if step % every == 0 or step == steps:
            yield Snapshot(step, {}, dict(metrics), {**info, "words": list(words)})


class PerplexityView(View):
    """Perplexity against bits for each granularity (no pruning), and this setting as a dot."""

    title = "perplexity (held-out text)"
    STYLES = {"tensor": (PALETTE[5], "-"), "channel": (PALETTE[2], "--"), "group": (PALETTE[3], ":")}

    def setup(self, ax, total_steps):
        self.ax, self.dot = ax, None
        style_axes(ax, self.title, xlabel="bits per block weight", ylabel="perplexity (log)")
        ax.set_yscale("log")
        plain_log_ticks(ax)

    def update(self, snap, history):
        if self.dot is None:
            sweep = snap.info["sweep"]
            for g, (color, line) in self.STYLES.items():
                self.ax.plot(sweep["bits"], sweep[g], line, color=color, lw=1.3, label=f"per {g}")
            self.ax.axhline(sweep["float"], color="#555", ls=":", lw=1, label="fp32")
            values = [v for g in Q.GRANULARITIES for v in sweep[g]] + [snap.metrics["perplexity"], sweep["float"]]
            self.ax.set_ylim(min(values) / 1.15, max(values) * 1.3)
            self.ax.set_xlim(8.4, 1.6)
            self.ax.legend(fontsize=LEGEND_SIZE, loc="upper left", frameon=False)
            self.dot = self._keep(self.ax.plot([], [], "o", color="black", ms=7)[0])
            self.dot.set_data([snap.info["bits"]], [snap.metrics["perplexity"]])
            return True
        return False

    def describe(self, snap):
        return (f"Perplexity {snap.metrics['perplexity']:.2f} at {snap.info['bits']} bits per {snap.info['granularity']} "
                f"with {snap.info['sparsity']:.0%} of the block weights pruned; the float model has "
                f"{snap.metrics['float_perplexity']:.2f}.")


class MemoryView(View):
    """Bytes of this setting, by part, next to the fp32 model: pruning moves nothing in dense storage."""

    title = "memory (dense storage)"
    PARTS = ("block matrices", "scales", "embeddings", "vectors")
    COLORS = (PALETTE[0], PALETTE[1], PALETTE[2], "#999999")

    def setup(self, ax, total_steps):
        self.ax, self.bars = ax, None
        style_axes(ax, self.title, xlabel="share of the fp32 model's bytes")
        ax.set_xlim(0, 1.05)
        ax.set_yticks([0, 1], ["fp32", "this setting"], fontsize=TICK_SIZE)
        ax.invert_yaxis()

    def update(self, snap, history):
        if self.bars is not None:
            return False
        total = snap.info["fp32_bytes"]
        left = 0.0
        for part, color in zip(self.PARTS, self.COLORS):
            width = snap.info["memory"][part] / total
            self.ax.barh(1, width, left=left, color=color, height=0.6, label=part)
            left += width
        self.ax.barh(0, 1.0, color="#cccccc", height=0.6)
        self.ax.text(min(left + 0.02, 0.8), 1, f"{left:.0%}", va="center", fontsize=LABEL_SIZE)
        self.ax.set_ylim(2.2, -0.5)  # room under the bars for the legend
        self.ax.legend(fontsize=LEGEND_SIZE, loc="lower center", frameon=False, ncol=2, bbox_to_anchor=(0.5, -0.02))
        self.bars = True
        return True

    def describe(self, snap):
        memory, total = snap.info["memory"], snap.info["fp32_bytes"]
        return (f"Memory of this setting: {sum(memory.values()) / total:.0%} of the fp32 model "
                f"(block matrices {memory['block matrices'] / total:.0%}, scales {memory['scales'] / total:.1%}, "
                f"fp16 embeddings {memory['embeddings'] / total:.0%}, fp32 vectors {memory['vectors'] / total:.1%}); "
                "the pruned zeros are stored like any weight.")


class CompletionView(View):
    """The prompt, the fp32 model's greedy completion, and this setting's, written word by word."""

    title = "greedy completion"

    def setup(self, ax, total_steps):
        self.ax = ax
        style_axes(ax, self.title)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        self.text = None

    def update(self, snap, history):
        info = snap.info
        first = self.text is None
        if first:
            self.ax.text(0.03, 0.88, f"prompt: {info['prompt']} …", fontsize=LABEL_SIZE, va="center")
            self.ax.text(0.03, 0.66, "fp32:  " + _wrap(info["float_words"]), fontsize=LABEL_SIZE, va="center",
                         color="#555555")
            self.text = self._keep(self.ax.text(0.03, 0.3, "", fontsize=LABEL_SIZE, va="center", color=PALETTE[0]))
        words, reference = info["words"], info["float_words"]
        same = sum(a == b for a, b in zip(words, reference))
        verdict = f"{same} of {len(words)} words as fp32" if words else "press Play: it writes"
        self.text.set_text(f"this:   {_wrap(words)}\n\n{verdict}; perplexity {snap.metrics['perplexity']:.2f}")
        return first

    def describe(self, snap):
        words = snap.info["words"]
        return (f"After the prompt “{snap.info['prompt']}” the compressed model has written "
                f"“{' '.join(words)}” ({len(words)} words); the fp32 model writes “{' '.join(snap.info['float_words'])}”.")


def _wrap(words, width: int = 34) -> str:
    lines, line = [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n        ".join(lines + [line]) if line or lines else ""


def compression_lab() -> Lab:
    return Lab(
        name="ch10-compression",
        title="Compress the loaded model: bits, scales and sparsity → perplexity, memory and its words",
        controls=[
            Slider("bits", "bits per weight", 2, 8, 4, integer=True, twin=(2, 4, 8)),
            Choice("granularity", "one scale per", Q.GRANULARITIES, "group"),
            Slider("sparsity", "weights pruned (%)", 0, 90, 0, integer=True, twin=(0, 50, 80), fmt="{}%"),
        ],
        run=compression_run,
        views=[PerplexityView, MemoryView, CompletionView],
        steps=COMPLETION, every=1, twin_frames=2,
    )


LABS = [compression_lab]


# ---- what real GPT-2 would cost here -------------------------------------------------------------------------------
def gpt2_text_tokens(text: str) -> int:
    """GPT-2 tokens of a farm text, assuming one per word (and per ".") and one per line break."""
    return len(re.findall(r"[^\s.]+|\.", text)) + text.count("\n")


def gpt2_seconds_per_token(tokens: int = 128) -> float:
    """CPU seconds per token of a GPT-2 small forward pass, measured here on one same-shaped block with random
    weights (times 12) and a 50,257 x 768 output layer, on this kernel's torch threads, each fed `tokens` tokens.
    Scaling to longer texts is linear: a matrix product costs in proportion to its rows (attention's share, which
    grows with the context, is small at a few hundred tokens). Far fewer tokens would mostly time reading the
    154 MB output layer from memory, not computing with it."""
    c = gpt.GPTConfig()
    torch.manual_seed(0)
    block = gpt.Block(c).eval()
    head = torch.full((c.vocab_size, c.n_embd), 0.01)
    x = torch.randn(1, tokens, c.n_embd)  # (1, T, d)
    seconds = {}
    with torch.inference_mode():
        for name, run in (("block", lambda: block(x)), ("head", lambda: x[0] @ head.T)):
            run()  # the first call allocates and picks kernels
            times = []
            for _ in range(2):  # the faster of two: a burst of load elsewhere only ever slows a call down
                start = time.perf_counter()
                run()
                times.append(time.perf_counter() - start)
            seconds[name] = min(times)
    return (c.n_layer * seconds["block"] + seconds["head"]) / tokens


@torch.no_grad()
def gpt2_seconds_per_block() -> dict[str, float]:
    """Seconds to copy, prune (50%, layer-wise) and quantize (4 bits per group) one GPT-2 small block's four matrices
    as `compress` does, on random weights of the real shapes; times 12 for a whole model."""
    c = gpt.GPTConfig()
    torch.manual_seed(0)
    block = gpt.Block(c)
    seconds = {}
    start = time.perf_counter()
    params = {name: p.detach().clone() for name, p in block.named_parameters() if p.dim() == 2}
    seconds["copy"] = time.perf_counter() - start
    start = time.perf_counter()
    masks = magnitude_masks(params, 0.5)
    for name, w in params.items():
        w.mul_(masks[name])
    seconds["prune"] = time.perf_counter() - start
    start = time.perf_counter()
    for w in params.values():
        w.copy_(Q.fake_quantize(w, 4, "symmetric", "group", GROUP))
    seconds["quantize"] = time.perf_counter() - start
    return seconds


def gpt2_estimate(lm, evaluations: dict | None = None, compressions: dict | None = None) -> dict:
    """Seconds the chapter's perplexity evaluations and compressions would take on GPT-2 small here: forward passes
    and one block's copy, pruning and quantization measured on GPT-2-shaped random weights, then scaled (chapter 10)."""
    _lm(lm)
    evaluations = dict(EVALUATIONS if evaluations is None else _keys("evaluations", evaluations, ("count",),
                                                                     "counts of perplexity evaluations"))
    compressions = dict(COMPRESSIONS if compressions is None else _keys("compressions", compressions,
                                                                        ("copy", "prune", "quantize"),
                                                                        "counts of compression steps"))
    tokens = len(heldout_ids(lm)) if is_gpt2(lm) else gpt2_text_tokens(pretrained.heldout_text())
    per_token = gpt2_seconds_per_token()
    block = {k: gpt.GPTConfig().n_layer * v for k, v in gpt2_seconds_per_block().items()}  # a whole model's
    compress_seconds = sum(compressions[k] * block[k] for k in ("copy", "prune", "quantize"))
    return {"evaluations": evaluations["count"], "tokens": tokens, "per_token": per_token,
            "compressions": compressions["copy"], "per_model": block,
            "seconds": evaluations["count"] * tokens * per_token + compress_seconds}


# ---- the numbers and verdicts the chapter's prose states (computed, never typed) ------------------------------
def count_verdict(lm, rows) -> str:
    """Do the loaded tensors and the configuration's formula agree, and what does that say about GPT-2 small?"""
    counted, formula = sum(r[1] for r in rows), sum(r[2] for r in rows)
    if counted != formula:
        return f"The two counts differ ({counted:,} counted, {formula:,} from the formula): this file is not a GPT-2."
    if is_gpt2(lm):
        return (f"Both ways: {counted:,} parameters — chapter 1's number from the configuration, now counted on the "
                "released tensors.")
    c = lm.model.config
    return (f"Both ways: {counted:,} parameters. The stand-in is a smaller GPT-2 ({c.n_layer} blocks of width "
            f"{c.n_embd}, {c.vocab_size} words), so its total is not GPT-2 small's {GPT2_SMALL_TOTAL:,}; the same "
            "formula gives that from GPT-2 small's configuration, and with GPT-2 loaded this table shows it counted "
            "on the real tensors.")


STANDIN_CORPORA = ("farm_more", "farm_place_first")  # the stand-in's training text (knobs/standin/README.md)


def training_text() -> str:
    """The text the stand-in was trained on."""
    return "".join(data.read_corpus_text(name) for name in STANDIN_CORPORA)


def grammar_perplexity(text: str) -> float:
    """The farm language's floor, estimated from `text`: the entropy of its sentence distribution, per word (a model
    that knew the grammar's sentence probabilities exactly would reach it; tools/make_standin.py, same formula)."""
    sentences = {}
    for line in text.splitlines():
        if line.strip():
            sentences[line.strip()] = sentences.get(line.strip(), 0) + 1
    n = sum(sentences.values())
    nats = -sum(c / n * math.log(c / n) for c in sentences.values())
    words = sum(c * len(s.split()) for s, c in sentences.items()) / n
    return math.exp(nats / words)


def heldout_facts() -> dict:
    """What the held-out text is: its sentences, how many of them also occur in the training text, the floor."""
    train = training_text()
    seen = {line.strip() for line in train.splitlines() if line.strip()}
    lines = [line.strip() for line in pretrained.heldout_text().splitlines() if line.strip()]
    return {"lines": len(lines), "distinct": len(set(lines)), "seen": sum(line in seen for line in set(lines)),
            "train_words": len(train.split()), "floor": grammar_perplexity(train)}


def prune_cost_verdict(dense: float, at_50: float, tokens: int) -> str:
    """What pruning half the block weights did to the perplexity: within 3% of the unpruned model's counts as
    unharmed (the held-out text is a few hundred tokens), with the comparison word taken from the numbers."""
    word = "lower than" if at_50 < dense else "higher than" if at_50 > dense else "the same as"
    if abs(at_50 / dense - 1) <= 0.03:
        return (f"unharmed at 50% ({at_50:.2f}, {word} the unpruned {dense:.2f}: a difference within the noise of "
                f"{tokens:,} tokens)")
    return f"already worse at 50% ({at_50:.2f}, {word} the unpruned {dense:.2f})"


def prune_time_verdict(ratio: float) -> str:
    """What a measured time ratio (pruned / dense, dense tensors) says, with the noise of a shared machine in mind."""
    if 0.75 <= ratio <= 1.33:
        return f"{ratio:.0%} of the dense time: the same, within the noise of a timing"
    return (f"{ratio:.0%} of the dense time. A dense kernel multiplies every entry, zero or not, so a gap this size is "
            "the noise of a shared machine: run the cell again")


def heldout_note(gpt2: bool, facts: dict, dense: float) -> str:
    """Where the loaded model's held-out perplexity sits against the farm language's floor."""
    if gpt2:
        return ("GPT-2 counts its own tokens, not farm words, so the farm language’s floor per word does not apply; "
                "GPT-2 was not trained on this text")
    gap = dense / facts["floor"]
    where = "near the floor" if gap < 1.05 else "above the floor"
    return (f"the grammar itself allows a perplexity of about {facts['floor']:.2f} (estimated from the training "
            f"text’s sentence frequencies), so {dense:.2f} is {where}, and differences of a few hundredths are noise")


def estimate_note(lm) -> str:
    """Why the GPT-2 time is an estimate, in this run."""
    if is_gpt2(lm):
        return "an estimate; this run loaded GPT-2 itself, and the last cell prints the time it really took"
    return "an estimate, since this run could not load GPT-2 itself"


def format_seconds(seconds: float) -> str:
    """'45 s', '3 minutes', '1.5 hours': an estimate's size, not false precision."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def _listing(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def model_numbers(lm) -> dict[str, str]:
    """What the prose states about the loaded model itself (glued right after it loads)."""
    model = lm.model
    rows = count_rows(model)
    small, here = memory_table(gpt.GPTConfig()), memory_table(model.config)
    lab = compression_lab()
    gains = [p.detach() for n, p in model.named_parameters() if weight_kind(n) == "layer-norm gains"]
    return {
        "model_name": "GPT-2 small" if is_gpt2(lm) else "the stand-in",
        "standin_words": f"{round(heldout_facts()['train_words'], -3):,}",
        "standin_vocab": str(pretrained.load_standin().model.config.vocab_size),
        "gpt2_total": f"{GPT2_SMALL_TOTAL:,}",
        "n_params_text": f"{sum(r[1] for r in rows):,}",
        "count_verdict": count_verdict(lm, rows),
        "ln_low": f"{min(float(p.min()) for p in gains):.2f}",
        "ln_high": f"{max(float(p.max()) for p in gains):.2f}",
        "group_size": str(GROUP),
        "window": str(model.config.n_positions),
        "gpt2_fp32": models.format_bytes(small["fp32"]),
        "gpt2_q4_0": models.format_bytes(small["Q4_0"]),
        "gpt2_q4_ratio": f"{small['fp32'] / small['Q4_0']:.1f}×",
        "here_q4_ratio": f"{here['fp32'] / here['Q4_0']:.1f}×",
        "prompt": PROMPT,
        "twin_bits": _listing([str(b) for b in lab.controls[0].twin]),
        "twin_sparsity": _listing([f"{s}%" for s in lab.controls[2].twin]),
        "estimate_note": estimate_note(lm),
        "gpt2_tokens_note": "" if is_gpt2(lm) else " (counting one token per word and per line break)",
        "lora_share_8": f"{lora_from_modules(model, 8) / sum(p.numel() for p in model.parameters()):.1%}",
        "gpt2_lora_share_8": f"{lora.gpt2_lora_count(gpt.GPTConfig(), 8) / GPT2_SMALL_TOTAL:.2%}",
    }


def weight_numbers(stats) -> dict[str, str]:
    """The weight statistics' numbers (matrix_stats)."""
    kurt = [r["kurtosis"] for r in stats]
    return {
        "gaussian_verdict": gaussian_verdict(kurt),
        "kurtosis_low": f"{min(kurt):.1f}",
        "kurtosis_high": f"{max(kurt):.1f}",
        "max_in_std": f"{max(r['max_in_std'] for r in stats):.1f}",
    }


def outlier_numbers(magnitudes) -> dict[str, str]:
    """The outlier dimension's numbers (residual_magnitudes)."""
    outliers = outlier_summary(magnitudes)
    layer = outliers["layer"]
    return {"outlier_verdict": outlier_verdict(outliers["ratio"]), "outlier_dim": str(outliers["dim"]),
            "outlier_ratio": f"{outliers['ratio']:.1f}",
            "outlier_where": ("after the embeddings" if layer == 0 else f"after block {layer - 1}")
                             + (", at the first token" if outliers["token"] == 0 else f", at token {outliers['token']}"),
            "outlier_last": f"{outliers['last_ratio']:.1f}"}


def prune_numbers(sweep_prune) -> dict[str, str]:
    """The pruning sweep's perplexities (prune_sweep)."""
    at = {s: i for i, s in enumerate(sweep_prune["sparsity"])}
    facts = heldout_facts()
    tokens = sweep_prune.get("tokens", 0)
    return {
        "heldout_lines": str(facts["lines"]),
        "heldout_distinct": str(facts["distinct"]),
        "heldout_seen": str(facts["seen"]),
        "heldout_note": heldout_note(sweep_prune.get("gpt2", False), facts, sweep_prune["dense"]),
        "prune_cost_verdict": prune_cost_verdict(sweep_prune["dense"], sweep_prune["layer-wise"][at[0.5]], tokens),
        "ppl_float": f"{sweep_prune['dense']:.2f}",
        "ppl_lw_80": f"{sweep_prune['layer-wise'][at[0.8]]:.2f}",
        "ppl_lw_90": f"{sweep_prune['layer-wise'][at[0.9]]:.2f}",
        "ppl_gl_90": f"{sweep_prune['global'][at[0.9]]:.2f}",
    }


def timing_numbers(prune_time) -> dict[str, str]:
    """The verdict on pruned vs dense time (pruning_time)."""
    return {"prune_time_verdict": prune_time_verdict(prune_time["pruned"] / prune_time["dense"])}


def quantize_numbers(sweep_quant) -> dict[str, str]:
    """The quantization sweep's perplexities (quantize_sweep)."""
    two = sweep_quant["bits"].index(2)
    return {
        "ppl_int4_group": f"{sweep_quant['group'][sweep_quant['bits'].index(4)]:.2f}",
        "ppl_q4_0": f"{sweep_quant['Q4_0']:.2f}",
        "ppl_int2_tensor": f"{sweep_quant['tensor'][two]:.2f}",
        "ppl_int2_channel": f"{sweep_quant['channel'][two]:.2f}",
        "ppl_int2_group": f"{sweep_quant['group'][two]:.2f}",
    }


def estimate_numbers(estimate) -> dict[str, str]:
    """The GPT-2 time estimate's numbers (gpt2_estimate)."""
    return {
        "n_evaluations": str(estimate["evaluations"]),
        "n_compressions": str(estimate["compressions"]),
        "gpt2_compression_s": f"{estimate['per_model']['prune'] + estimate['per_model']['quantize']:.1f} s",
        "gpt2_tokens": f"{estimate['tokens']:,}",
        "gpt2_ms_per_token": f"{estimate['per_token'] * 1e3:.1f}",
        "gpt2_estimate_s": format_seconds(estimate["seconds"]),
    }


def prose_numbers(lm, stats, magnitudes, sweep_prune, sweep_quant, prune_time, estimate) -> dict[str, str]:
    """Every number and verdict the chapter's prose states, as text: the sections' numbers together (the
    notebook glues each section's just before the prose that quotes it, as JupyterLab's Run All needs)."""
    return {**model_numbers(lm), **weight_numbers(stats), **outlier_numbers(magnitudes),
            **prune_numbers(sweep_prune), **timing_numbers(prune_time), **quantize_numbers(sweep_quant),
            **estimate_numbers(estimate)}
