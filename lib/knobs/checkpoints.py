"""GPT-2 checkpoints in the Hugging Face format: config.json + model.safetensors (chapter 10).

Scope: read and write the files that openai-community/gpt2 publishes and that
transformers' GPT2LMHeadModel reads and writes, for the model of `knobs.gpt`.
The released file names tensors without the "transformer." prefix, stores the
Conv1D matrices (c_attn, c_proj, c_fc) as [in, out] where nn.Linear keeps
[out, in], keeps each block's causal mask as a buffer (ignored here), and
stores the tied output layer once, as wte.weight. Any mismatch between a file
and its config.json is a one-line ValueError naming the tensor and both shapes.

Checked against transformers in tests/unit/test_checkpoints.py.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from knobs.gpt import GPT, GPTConfig
from knobs.validate import check_instance, fail

# HF's Conv1D weights, stored [in, out]; every other tensor has the same layout in the file and in knobs.gpt.
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# Causal-mask buffers that older checkpoints (the released GPT-2 among them) store: constants, not parameters.
IGNORED_KEYS = (".attn.bias", ".attn.masked_bias")
# Above this many parameters a model is built on the meta device (no second copy in memory while loading); below
# it, on the CPU: building on meta runs torch's reference random init, whose first use costs ~2 s of imports.
META_ABOVE = 10_000_000


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


def parameter_count(c: GPTConfig) -> int:
    """GPT-2's parameters from its configuration alone (tied output layer counted once; chapters 1 and 10)."""
    check_instance("c", c, GPTConfig, "a GPTConfig")
    d, inner = c.n_embd, c.n_inner or 4 * c.n_embd
    per_block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * inner + inner) + (inner * d + d)
    head = 0 if c.tie_word_embeddings else c.vocab_size * d
    return c.vocab_size * d + c.n_positions * d + c.n_layer * per_block + 2 * d + head


def from_safetensors(path) -> GPT:
    """A GPT from a Hugging Face checkpoint: a folder (or its model.safetensors) with config.json beside it."""
    config_file, weights_file = _checkpoint_files(path)
    config = config_from_hf(json.loads(config_file.read_text()))
    with torch.device("meta" if parameter_count(config) > META_ABOVE else "cpu"):
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
