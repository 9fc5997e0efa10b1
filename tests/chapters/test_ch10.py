"""Chapter 10: GPT-2's parameters opened with the book's tools -- its experiments checked against the book's tested
functions and torch's, its lab, verdicts, exercises and quiz, the online path, and its built page.

Offline, the chapter runs on the stand-in; `test_chapter_code_runs_on_a_gpt2_loaded_the_hub_way` runs the same code on
a GPT-2 with GPT-2's byte-level tokenizer (random weights, made here), and `test_notebook_loads_real_gpt2_...` runs the
notebook on the real GPT-2 when the Hugging Face Hub answers.
"""
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from knobs import checkpoints, gpt, lora, models, pretrained, prune
from knobs import quantize as Q
from knobs import weightonly as W
from knobs.chapters import ch10
from knobs.exercises import check, quiz

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "10_real_model.ipynb"


@pytest.fixture(scope="module")
def lm():
    return ch10.load()


@pytest.fixture(scope="module")
def ids(lm):
    return ch10.heldout_ids(lm)


# ---- which model --------------------------------------------------------------------------------------------------
def test_offline_the_chapter_says_it_looks_at_the_standin_and_why(lm):
    assert lm.name == "stand-in"
    line = ch10.which_model(lm)
    assert line.startswith("This chapter looks at the stand-in") and "805,248 parameters" in line
    assert "GPT-2 unavailable" not in line and "(" in line and "GPT-2 small" in line  # why, and what happens online


# ---- 1. counting ----------------------------------------------------------------------------------------------------
def test_counts_from_tensors_equal_the_formula_and_chapter_1s_total():
    assert ch10.GPT2_SMALL_TOTAL == 124_439_808 == checkpoints.parameter_count(gpt.GPTConfig())
    with torch.device("meta"):  # GPT-2 small's real shapes, no memory: the same table as on the loaded weights
        small = gpt.GPT(gpt.GPTConfig())
    rows = ch10.count_rows(small)
    assert all(counted == formula for _, counted, formula in rows)
    assert sum(r[1] for r in rows) == 124_439_808
    assert "124,439,808" in ch10.count_verdict(pretrained.load_standin(), ch10.count_rows(pretrained.load_standin().model))


def test_tying_is_one_tensor_and_the_file_does_not_store_the_head(lm):
    tie = ch10.tying(lm.model)
    assert tie == {"same_object": True, "same_memory": True, "shape": (29, 128), "saved": 29 * 128}
    keys = ch10.file_keys(lm)
    assert "wte.weight" in keys and "lm_head.weight" not in keys


# ---- 2. weights ---------------------------------------------------------------------------------------------------
def test_every_parameter_has_one_kind_and_the_kinds_add_up(lm):
    values = ch10.values_by_kind(lm.model)
    assert set(values) == set(ch10.KINDS)
    assert sum(len(v) for v in values.values()) == sum(p.numel() for p in lm.model.parameters())
    assert ch10.weight_kind("transformer.h.0.ln_1.weight") == "layer-norm gains"
    assert ch10.weight_kind("transformer.h.0.ln_1.bias") == "biases"
    assert ch10.weight_kind("transformer.h.3.mlp.c_proj.weight") == "MLP"
    assert ch10.weight_kind("lm_head.weight") == "token embeddings"


def test_kurtosis_is_three_for_a_gaussian_and_larger_for_heavy_tails():
    g = torch.Generator().manual_seed(0)
    assert ch10.kurtosis(torch.randn(200_000, generator=g)) == pytest.approx(3.0, abs=0.05)
    laplace = torch.distributions.Laplace(0.0, 1.0).sample((200_000,))
    assert ch10.kurtosis(laplace) == pytest.approx(6.0, abs=0.3)
    x = torch.tensor([1.0, 2.0, 3.0, 10.0], dtype=torch.float64)
    z = (x - x.mean()) / x.std(unbiased=False)
    assert ch10.kurtosis(x) == pytest.approx(float((z ** 4).mean()))


def test_matrix_stats_and_largest_weights_are_read_from_the_tensors(lm):
    stats = ch10.matrix_stats(lm.model)
    assert len(stats) == 4 * lm.model.config.n_layer
    for row in stats:
        w = lm.model.get_parameter(row["name"]).detach()
        assert row["max_in_std"] == pytest.approx(float(w.abs().max() / w.std()))
    top = ch10.largest_weights(lm.model, k=3)
    biggest = max((p.detach().abs().max() for n, p in lm.model.named_parameters()
                   if p.dim() == 2 and ".h." in n), key=float)
    assert abs(top[0]["value"]) == pytest.approx(float(biggest))
    r, c = top[0]["index"]
    assert float(lm.model.get_parameter(top[0]["name"]).detach()[r, c]) == pytest.approx(top[0]["value"])


def test_residual_magnitudes_are_the_blocks_outputs(lm, ids):
    seen = []
    hooks = [b.register_forward_hook(lambda m, i, out: seen.append(out[0].abs().detach()))
             for b in lm.model.transformer.h]
    try:
        with torch.no_grad():
            lm.model(ids[:64][None])
    finally:
        for h in hooks:
            h.remove()
    magnitudes = ch10.residual_magnitudes(lm.model, ids)
    torch.testing.assert_close(magnitudes[1:], torch.stack(seen))
    assert magnitudes.shape == (len(lm.model.transformer.h) + 1, 64, lm.model.config.n_embd)  # per token, per layer
    summary = ch10.outlier_summary(magnitudes)
    assert summary["ratio"] < 100  # the stand-in has no massive activation, and the chapter says so
    assert "massive" not in ch10.outlier_verdict(summary["ratio"])


def test_the_outlier_probe_sees_a_spike_at_the_first_token():
    magnitudes = torch.rand(5, 64, 128) + 0.5  # (layers, tokens, dims)
    magnitudes[2, 0, 7] = 5000.0  # one activation, at the first token, in the middle layers; gone in the last
    summary = ch10.outlier_summary(magnitudes)
    assert (summary["layer"], summary["token"], summary["dim"]) == (2, 0, 7) and summary["ratio"] > 1000
    assert summary["last_ratio"] < 10 and "massive" in ch10.outlier_verdict(summary["ratio"])
    numbers = ch10.outlier_numbers(magnitudes)
    assert numbers["outlier_where"] == "after block 1, at the first token" and numbers["outlier_last"] == f"{summary['last_ratio']:.1f}"
    fig, alt = ch10.outlier_figure(magnitudes)
    assert "dimension 7 at token 0" in alt


def test_verdicts_follow_the_numbers_they_judge():
    assert "no activation" in ch10.outlier_verdict(2.0) and "not by orders" in ch10.outlier_verdict(20)
    assert "orders of magnitude" in ch10.outlier_verdict(500)
    assert "close to Gaussian" in ch10.gaussian_verdict([3.0, 3.2])
    assert "heavier tails" in ch10.gaussian_verdict([3.0, 4.5])
    assert "far from Gaussian" in ch10.gaussian_verdict([3.0, 40.0])
    assert ch10.format_seconds(40) == "40 s" and ch10.format_seconds(600) == "10 minutes"
    assert ch10.format_seconds(3 * 3600) == "3.0 hours"
    assert "within the noise" in ch10.prune_time_verdict(1.05) and "run the cell again" in ch10.prune_time_verdict(1.4)
    assert "within the noise" in ch10.prune_time_verdict(0.83)  # a reviewer's rerun: still the same verdict
    assert ch10.prune_cost_verdict(1.95, 1.93, 333).startswith("unharmed at 50% (1.93, lower than the unpruned 1.95")
    assert "higher than" in ch10.prune_cost_verdict(1.95, 1.97, 333)
    assert ch10.prune_cost_verdict(1.95, 3.0, 333).startswith("already worse at 50% (3.00, higher than")
    assert "near the floor" in ch10.heldout_note(False, {"floor": 1.92}, 1.95)
    assert "above the floor" in ch10.heldout_note(False, {"floor": 1.92}, 2.5)
    assert "does not apply" in ch10.heldout_note(True, {"floor": 1.92}, 30.0)
    assert "run the cell again" in ch10.prune_time_verdict(0.6)


# ---- 3. embeddings -------------------------------------------------------------------------------------------------
def test_nearest_tokens_use_chapter_4s_cosine(lm):
    E = lm.model.transformer.wte.weight.detach()
    near = ch10.nearest_tokens(lm, "cow", k=2)
    cos = torch.nn.functional.cosine_similarity(E, E[ch10.token_of(lm, "cow")][None])
    cos[ch10.token_of(lm, "cow")] = -2
    assert near[0] == (lm.tokenizer.decode([int(cos.argmax())]), pytest.approx(float(cos.max()), abs=1e-6))
    S = ch10.probe_cosines(lm)
    torch.testing.assert_close(torch.diagonal(S), torch.ones(len(ch10.PROBE_WORDS)))


def test_tied_prediction_ranks_by_the_embedding_table(lm):
    tied = ch10.tied_prediction(lm, "the cow drinks")
    assert tied["equal"] and [t for t, _ in tied["by_logits"]] == tied["by_embedding"]
    assert tied["by_logits"][0][0] == "water"  # cows drink only water in the farm grammar
    assert ch10.show_token(lm, lm.tokenizer.ids["."]) == "⟨end⟩"


# ---- 4. and 5. compression -----------------------------------------------------------------------------------------
def test_compress_prunes_with_chapter_5s_masks_and_leaves_the_model_alone(lm):
    before = {n: p.detach().clone() for n, p in lm.model.named_parameters()}
    names = ch10.block_matrices(lm.model)
    layer = ch10.compress(lm.model, 0.5, "layer-wise")
    for name in names:
        mask = prune.magnitude_mask(lm.model.get_parameter(name), 0.5)
        torch.testing.assert_close(layer.get_parameter(name), lm.model.get_parameter(name) * mask)
    glob = ch10.compress(lm.model, 0.5, "global")
    masks = prune.global_magnitude_masks({n: lm.model.get_parameter(n) for n in names}, 0.5)
    assert sum(int((glob.get_parameter(n) == 0).sum()) for n in names) == sum(int((m == 0).sum()) for m in masks.values())
    assert all(torch.equal(p, before[n]) for n, p in lm.model.named_parameters())
    assert layer.lm_head.weight is layer.transformer.wte.weight
    with pytest.raises(ValueError, match="kind must be"):
        ch10.compress(lm.model, 0.5, "random")


@pytest.mark.parametrize("kind", ["layer-wise", "global"])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_threshold_masks_are_chapter_5s_masks(lm, kind, sparsity):
    params = {n: lm.model.get_parameter(n) for n in ch10.block_matrices(lm.model)}
    ours = ch10.magnitude_masks(params, sparsity, kind)
    theirs = (prune.global_magnitude_masks(params, sparsity) if kind == "global"
              else {n: prune.magnitude_mask(w, sparsity) for n, w in params.items()})
    assert all(torch.equal(ours[n], theirs[n]) for n in params)


def test_threshold_masks_leave_ties_to_chapter_5():
    tied = {"a": torch.tensor([[0.1, 0.1, 0.1, 0.5]]), "b": torch.tensor([[0.1, 0.3]])}
    for kind in ("layer-wise", "global"):
        ours = ch10.magnitude_masks(tied, 0.5, kind)
        theirs = (prune.global_magnitude_masks(tied, 0.5) if kind == "global"
                  else {n: prune.magnitude_mask(w, 0.5) for n, w in tied.items()})
        assert all(torch.equal(ours[n], theirs[n]) for n in tied)


def test_weight_figures_handle_a_fresh_model_whose_layer_norms_are_all_ones():
    torch.manual_seed(0)
    fresh = gpt.GPT(gpt.GPTConfig(vocab_size=40, n_positions=16, n_embd=32, n_layer=1, n_head=2))
    assert math.isnan(ch10.kurtosis(fresh.transformer.h[0].ln_1.weight))
    with __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")  # no division by zero on the way
        fig, alt = ch10.weight_histograms(fresh)
    assert "kurtosis nan" in alt


def test_compress_quantizes_with_chapter_6s_and_ggmls_quantizers(lm):
    name = "transformer.h.1.mlp.c_fc.weight"
    w = lm.model.get_parameter(name)
    q = ch10.compress(lm.model, bits=3, granularity="channel")
    torch.testing.assert_close(q.get_parameter(name), Q.fake_quantize(w, 3, "symmetric", "channel", ch10.GROUP))
    q4 = ch10.compress(lm.model, fmt="Q4_0")
    torch.testing.assert_close(q4.get_parameter(name), W.fake_quantize_blocks(w, "Q4_0"), rtol=0, atol=0)
    wte = lm.model.transformer.wte.weight
    torch.testing.assert_close(q4.transformer.wte.weight, wte.half().float(), rtol=0, atol=0)  # fp16 embeddings
    assert torch.equal(q4.transformer.h[0].ln_1.weight, lm.model.transformer.h[0].ln_1.weight)  # vectors: fp32
    with pytest.raises(ValueError, match="not both"):
        ch10.compress(lm.model, bits=4, fmt="Q4_0")


def test_the_sweeps_measure_the_books_perplexity(lm, ids):
    sweep = ch10.prune_sweep(lm)
    assert sweep["dense"] == pytest.approx(gpt.perplexity(lm.model, ids))
    i = sweep["sparsity"].index(0.9)
    assert sweep["layer-wise"][i] == pytest.approx(gpt.perplexity(ch10.compress(lm.model, 0.9), ids))
    assert sweep["layer-wise"][i] > 1.5 * sweep["dense"] and sweep["global"][i] > 1.5 * sweep["dense"]
    quant = ch10.quantize_sweep(lm)
    two = quant["bits"].index(2)
    assert quant["tensor"][two] > quant["channel"][two] > quant["group"][two] > quant["float"]
    assert quant["group"][quant["bits"].index(8)] == pytest.approx(quant["float"], rel=0.01)
    assert quant["Q4_0"] == pytest.approx(quant["float"], rel=0.02)
    shares = ch10.global_shares(lm.model, 0.5)
    assert set(shares) == set(ch10.MATRIX_KINDS) and len(set(round(s, 2) for s in shares.values())) > 1


def test_storage_bytes_agree_with_the_quantizers_own_byte_counts(lm):
    c = lm.model.config
    names = ch10.block_matrices(lm.model)
    params = {n: lm.model.get_parameter(n) for n in names}
    q4 = ch10.storage_bytes(c, "Q4_0")
    assert q4["block matrices"] + q4["scales"] == sum(W.quantize_blocks(p, "Q4_0").nbytes for p in params.values())
    for g in Q.GRANULARITIES:
        s = ch10.storage_bytes(c, "int", bits=3, granularity=g)
        assert s["block matrices"] + s["scales"] == pytest.approx(
            sum(Q.quantize_tensor(p, 3, "symmetric", g, ch10.GROUP).nbytes() for p in params.values()))
    n = sum(p.numel() for p in lm.model.parameters())
    assert sum(ch10.storage_bytes(c).values()) == 4 * n
    assert sum(ch10.storage_bytes(c, "4 bits, nothing else").values()) == n / 2
    with pytest.raises(ValueError, match="setting must be one of"):
        ch10.storage_bytes(c, "Q3_K")


def test_parameter_parts_from_the_configuration_match_gpt2_smalls_tensors():
    with torch.device("meta"):
        small = gpt.GPT(gpt.GPTConfig())
    parts = ch10.parameter_parts(small.config)
    matrices = sum(p.numel() for n, p in small.named_parameters() if p.dim() == 2 and ".h." in n)
    assert parts["block matrices"] == matrices
    assert sum(parts.values()) == 124_439_808
    table = ch10.memory_table(small.config)
    assert 3.5 < table["fp32"] / table["Q4_0"] < 4.5  # "about 4 times smaller", not 8 (the quiz's answer)
    assert table["fp32"] / table["4 bits, nothing else"] == 8


def test_lora_counts_are_read_from_the_layers_and_agree_with_chapter_8(lm):
    for rank, trainable, share in ch10.lora_rows(lm.model):
        assert trainable == lora.gpt2_lora_count(lm.model.config, rank)
        assert share == trainable / sum(p.numel() for p in lm.model.parameters())
    with torch.device("meta"):
        small = gpt.GPT(gpt.GPTConfig())
    assert ch10.lora_from_modules(small, 8) == 12 * 8 * (768 + 3 * 768 + 768 + 768)


# ---- the lab --------------------------------------------------------------------------------------------------------
def test_lab_measures_at_step_zero_and_writes_a_word_a_step():
    lab = ch10.compression_lab()
    lab.reset({"bits": 2, "granularity": "tensor", "sparsity": 0})
    first = lab.snapshot
    assert first.step == 0 and first.info["words"] == []
    assert first.metrics["perplexity"] == pytest.approx(ch10.quantize_sweep(ch10.load())["tensor"][-1])
    while lab.advance():
        pass
    assert lab.snapshot.step == ch10.COMPLETION and len(lab.snapshot.info["words"]) == ch10.COMPLETION
    assert "2 bits per tensor" in lab.describe() and "fp32 model writes" in lab.describe()


def test_lab_memory_does_not_move_with_sparsity():
    lab = ch10.compression_lab()
    lab.reset({"sparsity": 0})
    dense = lab.snapshot.info["memory"]
    lab.reset({"sparsity": 80})
    assert lab.snapshot.info["memory"] == dense
    assert lab.snapshot.metrics["perplexity"] > lab.snapshot.metrics["float_perplexity"]


def test_lab_refuses_out_of_range_values_and_its_live_face_says_so():
    lab = ch10.compression_lab()
    with pytest.raises(ValueError, match="between 0 and 90"):
        lab.reset({"sparsity": 95})
    live = lab.live()
    live.controls["granularity"].value = "channel"
    live.step_button.click()
    assert live.lab.snapshot.step == 1 and live.image.value[:2] == b"\xff\xd8"


def test_twin_stays_within_the_frame_budget():
    lab = ch10.compression_lab()
    assert np.prod([len(c.twin) for c in lab.controls]) * lab.twin_frames <= 60


# ---- the prose ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def numbers(lm, ids):
    stats = ch10.matrix_stats(lm.model)
    return ch10.prose_numbers(lm, stats=stats, magnitudes=ch10.residual_magnitudes(lm.model, ids),
                              sweep_prune=ch10.prune_sweep(lm), sweep_quant=ch10.quantize_sweep(lm),
                              prune_time={"dense": 1.0, "pruned": 0.98},
                              estimate={"evaluations": 27, "tokens": 387, "per_token": 0.004, "compressions": 27,
                                        "per_model": {"copy": 0.5, "prune": 5.0, "quantize": 2.0}, "seconds": 41.8})


def test_prose_numbers_are_the_results(numbers, lm):
    assert numbers["model_name"] == "the stand-in" and numbers["gpt2_total"] == "124,439,808"
    assert numbers["n_params_text"] == "805,248" and numbers["prune_time_verdict"].startswith("98% of the dense time")
    assert "could not load GPT-2" in numbers["estimate_note"] and "one token per word" in numbers["gpt2_tokens_note"]
    assert numbers["gpt2_q4_ratio"] == f"{474.7 / 121.1:.1f}×" and numbers["gpt2_estimate_s"] == "42 s"
    assert numbers["ppl_float"] == f"{ch10.float_perplexity(lm):.2f}"
    assert numbers["twin_bits"] == "2, 4 and 8" and numbers["twin_sparsity"] == "0%, 50% and 80%"
    assert numbers["standin_words"] == "38,000" and numbers["standin_vocab"] == "29" and numbers["window"] == "64"
    assert numbers["prune_cost_verdict"].startswith("unharmed at 50%")  # pruning half costs nothing on the stand-in
    assert (numbers["heldout_lines"], numbers["heldout_distinct"], numbers["heldout_seen"]) == ("53", "35", "34")
    assert "1.92" in numbers["heldout_note"] and "near the floor" in numbers["heldout_note"]


def test_the_estimate_counts_the_chapters_cells_not_the_lab(lm):
    ch10.prune_sweep(lm), ch10.quantize_sweep(lm)
    before = dict(ch10.COMPRESSIONS)
    run = ch10.compression_run({"bits": 4, "granularity": "group", "sparsity": 50}, steps=1, every=1)
    list(run)
    assert ch10.COMPRESSIONS == before  # a twin built or not, the chapter's count is the same


def test_quantize_figure_counts_the_scales_bits(lm):
    extra = ch10.quantize_sweep(lm)["scale_bits"]
    assert extra["group"] == 0.5 and extra["tensor"] < extra["channel"] < extra["group"]


def test_the_notebook_glues_exactly_the_numbers_its_prose_uses(numbers):
    nb = json.loads(NOTEBOOK.read_text())
    prose = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    used = set(re.findall(r"\{(?:glue:text|eval)\}`([^`]+)`", prose))
    assert used == set(numbers), (used ^ set(numbers))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "ch10.which_model(lm)" in code
    for section in ("model", "weight", "outlier", "prune", "timing", "quantize", "estimate"):
        assert f"ch10.{section}_numbers(" in code  # each section's numbers glued before the prose quoting them


# ---- the GPT-2 estimate ----------------------------------------------------------------------------------------------
def test_gpt2_time_estimate_is_measured_and_scaled():
    text = "the cat naps .\nthe dog eats bones in the garden .\n"
    assert ch10.gpt2_text_tokens(text) == 4 + 8 + 2
    per_token = ch10.gpt2_seconds_per_token(tokens=16)
    assert 1e-6 < per_token < 1.0
    estimate = ch10.gpt2_estimate(ch10.load(), {"count": 3, "tokens": 999}, {"copy": 2, "prune": 1, "quantize": 2})
    model = estimate["per_model"]
    assert estimate["seconds"] == pytest.approx(3 * estimate["tokens"] * estimate["per_token"]
                                                + 2 * model["copy"] + model["prune"] + 2 * model["quantize"])
    assert all(0 < v < 600 for v in model.values()) and estimate["compressions"] == 2


# ---- the online path ---------------------------------------------------------------------------------------------------
def _bpe_gpt2(folder):
    """GPT-2 as load_gpt2 returns it from the Hub -- BPE tokenizer, name 'gpt2' -- small and random, made here."""
    from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = Tokenizer(tmodels.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([pretrained.heldout_text()] * 3, trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"]))
    tokenizer.save(str(folder / "tokenizer.json"))
    bpe = pretrained.BPETokenizer(folder / "tokenizer.json")
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(vocab_size=bpe.vocab_size, n_positions=128, n_embd=64, n_layer=2, n_head=4)) \
        .save_pretrained(folder, safe_serialization=True)
    return pretrained.LoadedGPT(checkpoints.from_safetensors(folder), bpe, "gpt2", str(folder),
                                "openai-community/gpt2 from the Hugging Face Hub")


def test_chapter_code_runs_on_a_gpt2_loaded_the_hub_way(tmp_path):
    """Every experiment of the chapter, on a model with GPT-2's byte-level tokenizer and the online name."""
    lm = _bpe_gpt2(tmp_path)
    assert ch10.which_model(lm).startswith("This chapter looks at GPT-2 small:")
    ids = ch10.heldout_ids(lm)
    assert len(ids) > lm.model.config.n_positions  # sliding windows, as GPT-2 on a long text
    rows = ch10.count_rows(lm.model)
    assert "chapter 1's number" in ch10.count_verdict(lm, rows)
    assert ch10.file_keys(lm) and "lm_head.weight" not in ch10.file_keys(lm)
    assert len(ch10.nearest_tokens(lm, "cow")) == 4 and ch10.tied_prediction(lm, "the cow")["equal"]
    stats = ch10.matrix_stats(lm.model)
    magnitudes = ch10.residual_magnitudes(lm.model, ids)
    numbers = ch10.prose_numbers(lm, stats=stats, magnitudes=magnitudes, sweep_prune=ch10.prune_sweep(lm),
                                 sweep_quant=ch10.quantize_sweep(lm), prune_time={"dense": 1.0, "pruned": 1.0},
                                 estimate={"evaluations": 1, "tokens": len(ids), "per_token": 0.01, "compressions": 1,
                                           "per_model": {"copy": 0.1, "prune": 1.0, "quantize": 1.0}, "seconds": 5.0})
    assert numbers["model_name"] == "GPT-2 small" and numbers["gpt2_tokens_note"] == ""
    assert "loaded GPT-2 itself" in numbers["estimate_note"]
    for make in (ch10.weight_histograms, ch10.outlier_figure, ch10.cosine_figure):
        fig, alt = make(magnitudes if make is ch10.outlier_figure else lm if make is ch10.cosine_figure else lm.model)
        assert alt


def test_notebook_loads_real_gpt2_when_the_hub_answers():
    reachable, why = pretrained.hub_reachable()
    if not reachable:
        pytest.skip(f"needs the Hugging Face Hub to load real GPT-2: {why}")
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=3600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "This chapter looks at GPT-2 small: 124,439,808 parameters" in text
    assert re.search(r"total\s+124,439,808\s+124,439,808", text)


# ---- exercises and quiz ------------------------------------------------------------------------------------------------
def lora_trainable(model, rank):
    return sum(rank * (m.in_features + m.out_features) for n, m in model.named_modules()
               if n.endswith(("attn.c_attn", "attn.c_proj")))


def test_lora_exercise():
    assert check("ch10.lora", lora_trainable).ok
    only_qkv = check("ch10.lora", lambda m, r: sum(r * (x.in_features + x.out_features) for n, x in m.named_modules()
                                                   if n.endswith("c_attn")))
    assert not only_qkv.ok and "attn.c_proj" in only_qkv.message
    assert "Give a function" in check("ch10.lora", 3072).message
    assert not check("ch10.lora", lambda m, r: lora_trainable(m, r) + 1).ok


def q4_0_bytes(model):
    total = 0
    for name, p in model.named_parameters():
        total += p.numel() / 32 * 18 if p.dim() == 2 and ".h." in name else \
            2 * p.numel() if (".wte." in name or ".wpe." in name) else 4 * p.numel()
    return total


def test_memory_exercise_accepts_either_model_and_names_the_mistakes():
    standin = pretrained.load_standin().model
    assert check("ch10.memory", q4_0_bytes(standin)).ok
    assert check("ch10.memory", sum(ch10.storage_bytes(gpt.GPTConfig(), "Q4_0").values())).ok
    tied_twice = q4_0_bytes(standin) + 2 * standin.transformer.wte.weight.numel()
    assert "count it once" in check("ch10.memory", tied_twice).message
    naive = sum(p.numel() for p in standin.parameters()) / 2
    assert "8× smaller" in check("ch10.memory", naive).message
    result = check("ch10.memory", q4_0_bytes(standin) + 1)
    assert not result.ok and f"{q4_0_bytes(standin):,.0f}" not in result.message


def test_q4_0_exercise():
    def my_q4_0(block):
        m = block[block.abs().argmax()]
        d = m / -8
        return d.half().float() * (torch.floor(block / d + 8.5).clamp(0, 15) - 8)

    assert check("ch10.q4_0", my_q4_0).ok
    symmetric = check("ch10.q4_0", lambda b: torch.round(b / (b.abs().max() / 7)).clamp(-7, 7) * (b.abs().max() / 7))
    assert "chapter 6" in symmetric.message
    half_even = check("ch10.q4_0", lambda b: (b[b.abs().argmax()] / -8).half().float()
                      * (torch.round(b / (b[b.abs().argmax()] / -8) + 8).clamp(0, 15) - 8))
    assert "halves up" in half_even.message
    assert "fp16" in check("ch10.q4_0", lambda b: (b[b.abs().argmax()] / -8)
                           * (torch.floor(b / (b[b.abs().argmax()] / -8) + 8.5).clamp(0, 15) - 8)).message


def test_quiz_numbers_are_computed():
    questions = quiz.load_questions("ch10")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert sum(bool(a.get("correct")) for a in q["answers"]) == 1
    untied = next(q for q in questions if q["type"] == "numeric" and "separate output layer" in q["question"])
    right = next(a["value"] for a in untied["answers"] if a.get("correct"))
    config = gpt.GPTConfig(tie_word_embeddings=False)
    assert right == checkpoints.parameter_count(config)
    bits = next(q for q in questions if q["type"] == "numeric" and "Q4_0" in q["question"])
    assert next(a["value"] for a in bits["answers"] if a.get("correct")) == W.quantize_blocks(torch.ones(32)).bits_per_weight()


# ---- the built page -------------------------------------------------------------------------------------------------------
PAGE = "notebooks/10_real_model.html"


@pytest.mark.html
def test_page_has_the_twin_the_model_line_and_glued_numbers(built_html):
    html = (built_html / PAGE).read_text()
    data = [json.loads(p) for p in re.findall(r'class="knobs-twin-data">(.*?)</script>', html, re.S)]
    assert len(data) == 1 and len(data[0]["frames"]) == 27 and data[0]["steps"] == [0, ch10.COMPLETION]
    text = re.sub(r"<[^>]+>", " ", html)
    assert "This chapter looks at the stand-in" in text
    assert "glue:text" not in text and "{glue" not in text
    for author in ("Radford", "Sun", "Timkey", "Gerganov", "Frantar", "Hu"):
        assert author in text
    assert len((built_html / PAGE).read_bytes()) <= 2 * 1024 ** 2
