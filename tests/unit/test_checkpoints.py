"""knobs.checkpoints (chapter 10): GPT-2's Hugging Face files -- names, layouts, ties, and one-line errors.

Nothing here downloads anything: the stand-in and files written in the test are GPT-2 checkpoints in every respect
but size. That transformers reads them as this module does is tested in test_gpt.py (logits equal transformers').
"""
import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import GPT2Config

from knobs import checkpoints, gpt, pretrained
from test_gpt import formula_count, one_line_error, token_ids


# ---- files -------------------------------------------------------------------------------------------------------
def test_save_then_load_round_trip_in_released_key_names(tmp_path):
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=50, n_positions=16, n_embd=16, n_layer=2, n_head=2)).eval()
    checkpoints.to_safetensors(model, tmp_path)
    keys = set(load_file(tmp_path / "model.safetensors"))
    assert "wte.weight" in keys and "h.1.mlp.c_fc.weight" in keys and "lm_head.weight" not in keys
    assert load_file(tmp_path / "model.safetensors")["h.0.mlp.c_fc.weight"].shape == (16, 64)  # [in, out]
    X = token_ids(16, vocab_size=50)
    torch.testing.assert_close(checkpoints.from_safetensors(tmp_path / "model.safetensors")(X), model(X), rtol=0, atol=0)


def test_loader_takes_unprefixed_keys_and_ignores_mask_buffers():
    state = load_file(pretrained.STANDIN / "model.safetensors")
    assert not any(k.startswith("transformer.") for k in state)  # as in the released GPT-2 file
    T = json.loads((pretrained.STANDIN / "config.json").read_text())["n_positions"]
    state["h.0.attn.bias"] = torch.tril(torch.ones(T, T)).view(1, 1, T, T)  # the release's causal masks
    state["h.0.attn.masked_bias"] = torch.tensor(-1e4)
    model = gpt.GPT(checkpoints.config_from_hf(json.loads((pretrained.STANDIN / "config.json").read_text())))
    checkpoints.load_state_dict_hf(model, {f"transformer.{k}" if k.startswith("h.1") else k: v for k, v in state.items()})
    torch.testing.assert_close(model.transformer.h[0].attn.c_attn.weight, state["h.0.attn.c_attn.weight"].t())
    assert model.lm_head.weight is model.transformer.wte.weight


def test_bad_checkpoints_get_one_line_errors(tmp_path):
    one_line_error("does not exist", checkpoints.from_safetensors, tmp_path / "nowhere")
    one_line_error("model.safetensors is missing", checkpoints.from_safetensors, tmp_path)
    state = load_file(pretrained.STANDIN / "model.safetensors")
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    one_line_error("config.json is missing", checkpoints.from_safetensors, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text((pretrained.STANDIN / "config.json").read_text())

    broken = {k: v for k, v in state.items() if k != "h.1.mlp.c_fc.bias"}
    save_file(broken, tmp_path / "model.safetensors", metadata={"format": "pt"})
    one_line_error(r"no tensor for transformer\.h\.1\.mlp\.c_fc\.bias", checkpoints.from_safetensors, tmp_path)

    save_file({**state, "h.0.mlp.c_fc.weight": state["h.0.mlp.c_fc.weight"][:, :-1].contiguous()},
              tmp_path / "model.safetensors", metadata={"format": "pt"})
    message = one_line_error(r"h\.0\.mlp\.c_fc\.weight has shape \(128, 511\)", checkpoints.from_safetensors, tmp_path)
    assert "(128, 512)" in message  # both shapes, in the file's [in, out] layout

    save_file({**state, "h.9.attn.c_attn.weight": state["h.0.attn.c_attn.weight"].clone()},
              tmp_path / "model.safetensors", metadata={"format": "pt"})
    one_line_error(r"unexpected tensor h\.9\.attn\.c_attn\.weight", checkpoints.from_safetensors, tmp_path)

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    one_line_error("model_type must be 'gpt2'", checkpoints.from_safetensors, tmp_path)


@pytest.mark.parametrize("config", [dict(), dict(n_layer=2, n_embd=64, n_head=2, vocab_size=300, n_positions=32),
                                    dict(tie_word_embeddings=False, n_layer=1, n_embd=32, n_head=4, n_inner=48)])
def test_parameter_count_from_the_configuration_is_the_models(config):
    c = gpt.GPTConfig(**config)
    with torch.device("meta"):
        n = sum(p.numel() for p in gpt.GPT(c).parameters())  # a tied head is one tensor: counted once
    assert checkpoints.parameter_count(c) == n
    if not config:
        assert n == formula_count(GPT2Config())


def test_small_models_are_built_on_the_cpu_and_big_ones_on_meta(tmp_path):
    assert checkpoints.parameter_count(gpt.GPTConfig()) > checkpoints.META_ABOVE  # GPT-2 small: meta
    standin = pretrained.load_standin().model
    assert checkpoints.parameter_count(standin.config) < checkpoints.META_ABOVE
    assert not any(p.is_meta for p in standin.parameters())
