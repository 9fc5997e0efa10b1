"""GPT-2 from scratch (chapter 10: the knobs of a real language model).

Scope: the GPT-2 architecture (Radford et al. 2019) in the style of nanoGPT's
model.py -- token and position embeddings, `n_layer` pre-LayerNorm blocks
(causal self-attention, then a GELU MLP, each added to the residual stream),
a final LayerNorm and an output layer that reuses the token embedding -- and
what the chapter does with a model: count its parts, perplexity, greedy
decoding. No KV cache: decoding re-reads the whole context at every step,
which is fast enough at the book's lengths and keeps the forward pass the one
the reader has just read.

Parameter names mirror Hugging Face's GPT-2 keys, so `transformer.h.3.mlp.c_fc`
here is `h.3.mlp.c_fc` in the released file. Reading and writing those files
(config.json + model.safetensors, Conv1D layouts): `knobs.checkpoints`; GPT-2
from the Hub or the offline stand-in: `knobs.pretrained`. Checked against
transformers' GPT2LMHeadModel in tests/unit/test_gpt.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from knobs.validate import ArgumentTypeError, check_bool, check_instance, check_int, check_number, fail


@dataclass
class GPTConfig:
    """GPT-2 small as released (the defaults are openai-community/gpt2's config.json)."""

    vocab_size: int = 50257  # 256 byte tokens + 50,000 BPE merges + <|endoftext|>
    n_positions: int = 1024  # longest context: one learned position vector per slot
    n_embd: int = 768  # width d of the residual stream
    n_layer: int = 12  # transformer blocks
    n_head: int = 12  # attention heads, each reading n_embd // n_head = 64 numbers per token
    n_inner: int | None = None  # MLP width; None means 4 * n_embd, as in every released GPT-2
    layer_norm_epsilon: float = 1e-5  # added to the variance in every LayerNorm (torch's default too)
    tie_word_embeddings: bool = True  # the output layer reuses the token embedding matrix
    dropout: float = 0.0  # GPT-2 trained with 0.1; the book only evaluates and fine-tunes briefly

    def __post_init__(self):
        for name, low, high in (("vocab_size", 2, 1_000_000), ("n_positions", 1, 1_000_000),
                                ("n_embd", 1, 100_000), ("n_layer", 1, 1000), ("n_head", 1, 1000)):
            check_int(name, getattr(self, name), low, high)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head}): heads split it")
        if self.n_inner is not None:
            check_int("n_inner", self.n_inner, 1, must="None or a whole number of at least 1")
        check_number("layer_norm_epsilon", self.layer_norm_epsilon, 0, 1, low_open=True)
        check_bool("tie_word_embeddings", self.tie_word_embeddings)
        check_number("dropout", self.dropout, 0, 1, high_open=True,
                     must="a number between 0 (included) and 1 (excluded)")


class CausalSelfAttention(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        check_instance("c", c, GPTConfig, "a GPTConfig")
        self.n_head, self.dropout = c.n_head, c.dropout
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd)  # queries, keys and values of all heads in one matrix
        self.c_proj = nn.Linear(c.n_embd, c.n_embd)  # mixes the heads' outputs back into the stream
        self.resid_dropout = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)  # 3 x (B, T, d)
        q, k, v = (t.view(B, T, self.n_head, d // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, h, T, d/h)
        # softmax(q kᵀ / sqrt(d/h)) v, each position attending to itself and earlier ones only
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)  # (B, h, T, d/h)
        y = y.transpose(1, 2).contiguous().view(B, T, d)  # the heads side by side again: (B, T, d)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, c: GPTConfig):
        super().__init__()
        check_instance("c", c, GPTConfig, "a GPTConfig")
        inner = c.n_inner or 4 * c.n_embd
        self.c_fc = nn.Linear(c.n_embd, inner)
        self.c_proj = nn.Linear(inner, c.n_embd)
        self.dropout = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.c_fc(x), approximate="tanh")  # (B, T, inner); GPT-2's "gelu_new" is this tanh form
        return self.dropout(self.c_proj(h))  # (B, T, d)


class Block(nn.Module):
    """Pre-LN block: normalise, then attend / compute, then add to the residual stream."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        check_instance("c", c, GPTConfig, "a GPTConfig")
        self.ln_1 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon)
        self.mlp = MLP(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))  # tokens exchange information
        return x + self.mlp(self.ln_2(x))  # each token computes on its own


class GPT(nn.Module):
    """GPT-2: ids (B, T) -> next-token logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        check_instance("config", config, GPTConfig, "a GPTConfig")
        self.config = c = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),  # token embeddings
            wpe=nn.Embedding(c.n_positions, c.n_embd),  # position embeddings
            drop=nn.Dropout(c.dropout),
            h=nn.ModuleList(Block(c) for _ in range(c.n_layer)),
            ln_f=nn.LayerNorm(c.n_embd, eps=c.layer_norm_epsilon),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.transformer.wte.weight  # one tensor, two uses
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2: residual projections shrink by 1/sqrt(2 * n_layer)
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)  # GPT-2's initializer_range
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        B, T = idx.shape
        if T > self.config.n_positions:
            raise ValueError(f"idx has {T} tokens; this model reads at most n_positions={self.config.n_positions}")
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, d)
        for block in self.transformer.h:
            x = block(x)  # (B, T, d)
        return self.lm_head(self.transformer.ln_f(x))  # (B, T, vocab_size)


# ---- using a model ---------------------------------------------------------------------------------------------
# Which part of GPT-2 a parameter belongs to: the first pattern its name contains (ln_f before the blocks' ln_).
PARTS = (("transformer.wte.", "token embeddings"), ("transformer.wpe.", "position embeddings"),
         ("transformer.ln_f.", "final layer norm"), (".attn.", "attention"), (".mlp.", "mlp"),
         (".ln_", "layer norms"), ("lm_head.", "output layer (untied)"))


def parameter_groups(model: GPT) -> dict[str, int]:
    """Parameters per part of the model, counted from its tensors (a tied output layer counts 0: it is wte)."""
    check_instance("model", model, GPT, "a knobs.gpt GPT")
    groups = dict.fromkeys((part for _, part in PARTS), 0)
    for name, p in model.named_parameters():  # named_parameters lists a shared tensor once
        groups[next(part for pattern, part in PARTS if pattern in name)] += p.numel()
    return groups


def _as_ids(ids) -> torch.Tensor:
    try:
        ids = torch.as_tensor(ids)
    except (TypeError, ValueError, RuntimeError):
        fail("ids", "one sequence of token ids (a list or a 1-D tensor of whole numbers)", ids, ArgumentTypeError)
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        fail("ids", "token ids (whole numbers)", ids, ArgumentTypeError)
    ids = ids.long()
    if ids.ndim != 1:
        raise ValueError(f"ids must be one sequence of token ids (1-D), got shape {tuple(ids.shape)}")
    return ids


def windows(n_tokens: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, new) of each window perplexity reads: tokens end - new .. end - 1 are scored in it, once each."""
    check_int("n_tokens", n_tokens, 2)
    check_int("context", context, 2)
    check_int("stride", stride, 1, context - 1)
    out, scored_to, start = [], 1, 0  # token 0 has no context: it is never scored
    while scored_to < n_tokens:
        end = min(start + context, n_tokens)
        out.append((start, end, end - scored_to))  # only tokens the previous window did not score
        scored_to, start = end, start + stride
    return out


@torch.no_grad()
def perplexity(model: GPT, ids, stride: int | None = None) -> float:
    """exp(mean next-token loss) over `ids`; texts longer than the context slide a window by `stride` (chapter 10)."""
    check_instance("model", model, GPT, "a knobs.gpt GPT")
    if stride is not None:
        check_int("stride", stride, 1)
    ids, T = _as_ids(ids), model.config.n_positions
    if len(ids) < 2:
        raise ValueError(f"ids must hold at least 2 tokens (the first is only context), got {len(ids)}")
    if T < 2:
        raise ValueError(f"perplexity needs n_positions of at least 2 (a token and its context), got {T}")
    stride = stride or T // 2  # every token after the first window keeps at least T - stride tokens of context
    if not 1 <= stride <= T - 1:
        raise ValueError(f"stride must be between 1 and n_positions - 1 = {T - 1}, got {stride}")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    by_length = {}  # windows of one length go through the model as one batch: same numbers, fewer calls
    for start, end, new in windows(len(ids), T, stride):
        by_length.setdefault(end - start, []).append((start, end, new))
    for length, group in by_length.items():
        X = torch.stack([ids[start:end] for start, end, _ in group])  # (B, t)
        logits = model(X)  # (B, t, vocab_size)
        losses = F.cross_entropy(logits[:, :-1].transpose(1, 2), X[:, 1:], reduction="none")  # (B, t - 1)
        for row, (_, _, new) in zip(losses, group):
            total += float(row[-new:].sum())
            count += new
    model.train(was_training)
    return math.exp(total / count)


@torch.no_grad()
def generate(model: GPT, ids, max_new_tokens: int = 20) -> list[int]:
    """Greedy decoding: append the most likely next token `max_new_tokens` times (deterministic)."""
    check_instance("model", model, GPT, "a knobs.gpt GPT")
    ids = _as_ids(ids)
    if len(ids) < 1:
        raise ValueError("ids must hold at least one token to continue from")
    check_int("max_new_tokens", max_new_tokens, 0, 10_000)
    was_training = model.training
    model.eval()
    out = ids.tolist()
    for _ in range(max_new_tokens):
        context = torch.tensor(out[-model.config.n_positions:])[None]  # (1, t): crop to what the model can read
        out.append(int(model(context)[0, -1].argmax()))  # ties go to the lowest id: argmax is deterministic
    model.train(was_training)
    return out
