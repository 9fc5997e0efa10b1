"""GPT-2 from scratch, and its checkpoint files (chapter 10: the knobs of a real language model).

Scope: the GPT-2 architecture (Radford et al. 2019) in the style of nanoGPT's
model.py -- token and position embeddings, `n_layer` pre-LayerNorm blocks
(causal self-attention, then a GELU MLP, each added to the residual stream),
a final LayerNorm and an output layer that reuses the token embedding -- plus
reading and writing checkpoints in the Hugging Face format (config.json +
model.safetensors), perplexity, and greedy decoding. No KV cache: decoding
re-reads the whole context at every step, which is fast enough at the book's
lengths and keeps the forward pass the one the reader has just read.

Parameter names mirror Hugging Face's GPT-2 keys, so `transformer.h.3.mlp.c_fc`
here is `h.3.mlp.c_fc` in the released file. One convention differs: HF keeps
c_attn, c_proj and c_fc as `Conv1D` layers whose weight is [in, out]; this
module uses nn.Linear, whose weight is [out, in], and transposes those
matrices when it reads or writes a file (as nanoGPT does). Same numbers,
other layout: `y = x @ W_file + b = x @ W_linear.T + b`.

Real weights (GPT-2 from the Hub, or the offline stand-in): `knobs.pretrained`.
Checked against transformers' GPT2LMHeadModel in tests/unit/test_gpt.py.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from knobs.validate import ArgumentTypeError, check_bool, check_instance, check_int, check_number, fail

# HF's Conv1D weights, stored [in, out]; every other tensor has the same layout in the file and here.
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# Causal-mask buffers that older checkpoints (the released GPT-2 among them) store: constants, not parameters.
IGNORED_KEYS = (".attn.bias", ".attn.masked_bias")


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


# ---- Hugging Face files: config.json + model.safetensors ---------------------------------------------------------
def config_from_hf(hf: dict) -> GPTConfig:
    """A GPTConfig from a Hugging Face GPT-2 config.json (as a dict); refuses settings this module does not compute."""
    check_instance("hf", hf, dict, "the contents of a config.json (a dict)")
    if hf.get("model_type") != "gpt2":
        raise ValueError(f"config.json: model_type must be 'gpt2', got {hf.get('model_type')!r}")
    # Settings that change the function computed: loading them silently would give other numbers.
    for key, allowed in (("activation_function", ("gelu_new", "gelu_pytorch_tanh")), ("scale_attn_weights", (True,)),
                         ("scale_attn_by_inverse_layer_idx", (False,)), ("add_cross_attention", (False,))):
        if key in hf and hf[key] not in allowed:
            raise ValueError(f"config.json: {key} must be one of {allowed} for knobs.gpt, got {hf[key]!r}")
    needed = ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head")
    if any(key not in hf for key in needed):
        fail("hf", f"a GPT-2 config.json with {', '.join(needed)}", hf)
    return GPTConfig(vocab_size=hf["vocab_size"], n_positions=hf["n_positions"], n_embd=hf["n_embd"],
                     n_layer=hf["n_layer"], n_head=hf["n_head"], n_inner=hf.get("n_inner"),
                     layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-5),
                     tie_word_embeddings=hf.get("tie_word_embeddings", True))


def config_to_hf(c: GPTConfig, **extra) -> dict:
    """The config.json transformers expects for GPT2LMHeadModel (`extra`: e.g. bos_token_id)."""
    check_instance("c", c, GPTConfig, "a GPTConfig")
    fields = {k: v for k, v in asdict(c).items() if k != "dropout"}
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
            "n_ctx": c.n_positions, **fields, "attn_pdrop": c.dropout, "embd_pdrop": c.dropout,
            "resid_pdrop": c.dropout, "initializer_range": 0.02, **extra}


def _file_shape(name: str, shape) -> tuple[int, ...]:
    return tuple(shape)[::-1] if name.endswith(CONV1D_WEIGHTS) else tuple(shape)


@torch.no_grad()
def load_state_dict_hf(model: GPT, state_dict: dict[str, torch.Tensor]) -> GPT:
    """Put a Hugging Face GPT-2 state dict (keys with or without 'transformer.') into `model`; returns it."""
    check_instance("model", model, GPT, "a knobs.gpt GPT")
    check_instance("state_dict", state_dict, dict, "a dict of tensor name -> tensor")
    incoming = {}  # our name -> (the file's name, tensor in our layout)
    for key, tensor in state_dict.items():
        if key.endswith(IGNORED_KEYS):
            continue
        name = key if key.startswith(("transformer.", "lm_head.")) else f"transformer.{key}"
        incoming[name] = (key, tensor.t() if name.endswith(CONV1D_WEIGHTS) else tensor)
    expected = model.state_dict()  # a tied model lists lm_head.weight too: the same tensor as wte
    tied = model.config.tie_word_embeddings
    if tied and "lm_head.weight" in incoming:  # some files store the tied head anyway: it must be wte
        key, head = incoming.pop("lm_head.weight")
        if "transformer.wte.weight" in incoming and not torch.equal(head, incoming["transformer.wte.weight"][1]):
            raise ValueError(f"{key} differs from the token embedding, but config.json ties them "
                             "(tie_word_embeddings: true)")
    if tied and "transformer.wte.weight" in incoming:
        incoming["lm_head.weight"] = incoming["transformer.wte.weight"]
    missing, unexpected = sorted(expected.keys() - incoming.keys()), sorted(incoming.keys() - expected.keys())
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ValueError(f"checkpoint has no tensor for {missing[0]}{more}: is it a GPT-2 with this config.json?")
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise ValueError(f"checkpoint has an unexpected tensor {incoming[unexpected[0]][0]}{more}")
    for name, want in expected.items():
        key, tensor = incoming[name]
        if tensor.shape != want.shape:
            raise ValueError(f"{key} has shape {_file_shape(name, tensor.shape)} in the checkpoint; "
                             f"config.json needs {_file_shape(name, want.shape)}")
    on_meta = next(model.parameters()).is_meta
    # On the meta device there is nothing to copy into: adopt the file's tensors (no second copy in memory).
    model.load_state_dict({name: t.contiguous() for name, (_, t) in incoming.items()}, assign=on_meta)
    if tied:
        model.lm_head.weight = model.transformer.wte.weight  # assign=True made two Parameters: tie them again
    return model


def _checkpoint_files(path) -> tuple[Path, Path]:
    check_instance("path", path, (str, os.PathLike), "a folder (or its model.safetensors) as a str or Path")
    path = Path(path)
    weights = path / "model.safetensors" if path.is_dir() else path
    config = weights.parent / "config.json"
    if not path.exists():
        raise ValueError(f"path {str(path)!r} does not exist: give a folder with config.json and model.safetensors")
    for f in (weights, config):
        if not f.is_file():
            raise ValueError(f"{f.name} is missing from {str(weights.parent)!r}: a checkpoint needs "
                             "config.json and model.safetensors side by side")
    return config, weights


def from_safetensors(path) -> GPT:
    """A GPT from a Hugging Face checkpoint: a folder (or its model.safetensors) with config.json beside it."""
    config_file, weights_file = _checkpoint_files(path)
    config = config_from_hf(json.loads(config_file.read_text()))
    with torch.device("meta"):  # no random initialisation of tensors the file is about to replace
        model = GPT(config)
    return load_state_dict_hf(model, load_file(weights_file)).eval()


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """The model's tensors named and laid out as in the released GPT-2 file (no 'transformer.', Conv1D [in, out])."""
    check_instance("model", model, GPT, "a knobs.gpt GPT")
    out = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and model.config.tie_word_embeddings:
            continue  # tied: the file stores the matrix once, as wte.weight
        key = name.removeprefix("transformer.")
        out[key] = (tensor.t() if name.endswith(CONV1D_WEIGHTS) else tensor).detach().contiguous().clone()
    return out


def to_safetensors(model: GPT, directory, **config_extra) -> Path:
    """Write config.json + model.safetensors that transformers and `from_safetensors` both load; returns the folder."""
    check_instance("model", model, GPT, "a knobs.gpt GPT")
    check_instance("directory", directory, (str, os.PathLike), "a folder as a str or Path")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config_to_hf(model.config, **config_extra), indent=2) + "\n")
    save_file(hf_state_dict(model), directory / "model.safetensors", metadata={"format": "pt"})
    return directory


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
    total, count, scored_to, start = 0.0, 0, 1, 0  # token 0 has no context: it is never scored
    while scored_to < len(ids):
        end = min(start + T, len(ids))
        logits = model(ids[start:end][None])[0]  # (t, vocab_size)
        losses = F.cross_entropy(logits[:-1], ids[start + 1:end], reduction="none")  # (t - 1,) for tokens start+1..end-1
        new = end - scored_to  # only tokens the previous window did not score
        total += float(losses[-new:].sum())
        count += new
        scored_to, start = end, start + stride
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
