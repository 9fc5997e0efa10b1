"""knobs.gpt and knobs.pretrained (chapter 10): GPT-2 from scratch, checked against transformers, offline.

The checkpoint files themselves (names, layouts, errors) are tested in test_checkpoints.py.

transformers is a test dependency only: the oracle for the forward pass, the key names and the file format.
Nothing here downloads anything; the one test of the real Hub runs only when the Hub answers.
"""
import json
import math
import time
from collections import Counter

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.utils import logging as hf_logging

from knobs import checkpoints, gpt, pretrained

hf_logging.set_verbosity_error()  # transformers' notes about tiny configs are not test output
TINY = dict(vocab_size=100, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)


def random_hf_model(seed: int = 0, **config) -> GPT2LMHeadModel:
    """A tiny transformers GPT-2 with weights large enough that every part of the forward pass shows in the logits."""
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(**{**TINY, **config})).eval()
    with torch.no_grad():  # GPT-2's init (std 0.02) leaves logits near 0: too easy to match by accident
        for name, p in model.named_parameters():
            p.normal_(1.0, 0.2) if name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")) else p.normal_(0.0, 0.3)
    return model


def token_ids(n: int, vocab_size: int = 100, batch: int = 3, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, vocab_size, (batch, n), generator=torch.Generator().manual_seed(seed))


def formula_count(c) -> int:
    """GPT-2's parameters from its configuration (tied head counted once)."""
    d, L = c.n_embd, c.n_layer
    per_block = 2 * 2 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return c.vocab_size * d + c.n_positions * d + L * per_block + 2 * d


# ---- the forward pass against transformers ---------------------------------------------------------------------
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_logits_equal_transformers(tmp_path, tied, attention):
    hf = random_hf_model(tie_word_embeddings=tied)
    hf.save_pretrained(tmp_path, safe_serialization=True)
    hf = GPT2LMHeadModel.from_pretrained(tmp_path, attn_implementation=attention).eval()
    model = checkpoints.from_safetensors(tmp_path)
    X = token_ids(TINY["n_positions"])  # a full context: every position embedding is used
    with torch.no_grad():
        expected, got = hf(X).logits, model(X)
    assert expected.std() > 0.5  # the weights really move the logits
    torch.testing.assert_close(got, expected)
    assert (model.lm_head.weight is model.transformer.wte.weight) == tied
    assert ("lm_head.weight" in load_file(tmp_path / "model.safetensors")) == (not tied)


def test_gpt2_small_on_meta_has_transformers_keys_and_shapes():
    with torch.device("meta"):  # real shapes, no memory, no download
        ours = gpt.GPT(gpt.GPTConfig())
        theirs = GPT2LMHeadModel(GPT2Config())
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)  # the same names in the same order
    for name, tensor in theirs_sd.items():  # Conv1D stores [in, out]; our nn.Linear [out, in]
        expected = tensor.shape[::-1] if name.endswith(checkpoints.CONV1D_WEIGHTS) else tensor.shape
        assert ours_sd[name].shape == expected, name
    n_ours, n_theirs = (sum(p.numel() for p in m.parameters()) for m in (ours, theirs))  # tied head counted once
    assert n_ours == n_theirs == formula_count(GPT2Config()) == formula_count(gpt.GPTConfig())
    assert round(n_ours / 1e6) == 124  # "GPT-2 small (124M)"
    d, L = ours.config.n_embd, ours.config.n_layer
    assert gpt.parameter_groups(ours) == {
        "token embeddings": ours.config.vocab_size * d, "position embeddings": ours.config.n_positions * d,
        "final layer norm": 2 * d, "attention": L * (d * 3 * d + 3 * d + d * d + d),
        "mlp": L * (d * 4 * d + 4 * d + 4 * d * d + d), "layer norms": L * 2 * 2 * d, "output layer (untied)": 0}
    assert ours.lm_head.weight is ours.transformer.wte.weight


def one_line_error(match, call, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as error:
        call(*args, **kwargs)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_config_and_inputs_are_checked():
    one_line_error("multiple of n_head", gpt.GPTConfig, n_embd=770, n_head=12)
    one_line_error("n_layer must be", gpt.GPTConfig, n_layer=0)
    model = pretrained.load_standin().model
    one_line_error("at most n_positions=64", model, torch.zeros(1, 65, dtype=torch.long))
    one_line_error("stride must be between 1 and", gpt.perplexity, model, list(range(10)), 64)
    one_line_error("at least 2 tokens", gpt.perplexity, model, [3])


# ---- perplexity and decoding ------------------------------------------------------------------------------------
def test_perplexity_single_window_is_transformers_loss(tmp_path):
    hf = random_hf_model()
    hf.save_pretrained(tmp_path, safe_serialization=True)
    ids = token_ids(40, batch=1)
    with torch.no_grad():
        loss = hf(ids, labels=ids).loss  # transformers shifts the labels itself
    assert gpt.perplexity(checkpoints.from_safetensors(tmp_path), ids[0]) == pytest.approx(math.exp(loss), rel=1e-5)


def test_sliding_window_with_stride_one_gives_every_token_its_longest_context():
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=20, n_positions=8, n_embd=16, n_layer=1, n_head=2)).eval()
    ids = token_ids(30, vocab_size=20, batch=1)[0]
    with torch.no_grad():  # token i read after the (up to) 7 tokens before it, one forward pass each
        losses = [torch.nn.functional.cross_entropy(model(ids[max(0, i - 7):i][None])[0, -1], ids[i])
                  for i in range(1, len(ids))]
    assert gpt.perplexity(model, ids, stride=1) == pytest.approx(math.exp(sum(losses) / len(losses)), rel=1e-5)
    assert gpt.perplexity(model, ids) > 0  # the default stride (n_positions // 2) runs too


def test_windows_of_one_length_run_as_one_batch_with_the_same_numbers():
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=20, n_positions=8, n_embd=16, n_layer=1, n_head=2)).eval()
    ids = token_ids(27, vocab_size=20, batch=1)[0]  # windows of 8 tokens every 3, and a shorter last one
    assert {end - start for start, end, _ in gpt.windows(27, 8, 3)} == {8, 6}
    total, count = 0.0, 0
    with torch.no_grad():  # one window at a time, as the loop reads in the docstring
        for start, end, new in gpt.windows(27, 8, 3):
            logits = model(ids[start:end][None])[0]
            total += float(torch.nn.functional.cross_entropy(logits[:-1], ids[start + 1:end], reduction="none")[-new:].sum())
            count += new
    assert count == 26  # every token but the first, once
    assert gpt.perplexity(model, ids, stride=3) == pytest.approx(math.exp(total / count), rel=1e-6)


def test_greedy_generation_matches_transformers_on_the_standin():
    lm = pretrained.load_standin()
    hf = GPT2LMHeadModel.from_pretrained(pretrained.STANDIN).eval()
    hf.generation_config.eos_token_id = None  # go on past the sentence end, as gpt.generate does
    prompt = lm.tokenizer.encode("the dog chases the")
    with torch.no_grad():
        expected = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False,
                               pad_token_id=0).tolist()[0]
    assert len(expected) == len(prompt) + 12
    assert gpt.generate(lm.model, prompt, 12) == expected
    assert lm.complete("the cow drinks", 2) == "water ."  # cows drink only water in the farm grammar


# ---- the stand-in ------------------------------------------------------------------------------------------------
def test_standin_is_a_gpt2_checkpoint_transformers_reads_the_same_way():
    config = json.loads((pretrained.STANDIN / "config.json").read_text())
    assert config["model_type"] == "gpt2" and config["tie_word_embeddings"] is True
    hf = GPT2LMHeadModel.from_pretrained(pretrained.STANDIN).eval()  # transformers' own reading of the files
    expected_keys = {k.removeprefix("transformer.") for k in hf.state_dict()} - {"lm_head.weight"}
    state = load_file(pretrained.STANDIN / "model.safetensors")
    assert set(state) == expected_keys  # GPT-2's names, no lm_head (tied), nothing else
    for key, tensor in hf.state_dict().items():  # and its Conv1D [in, out] layouts
        if key != "lm_head.weight":
            assert state[key.removeprefix("transformer.")].shape == tensor.shape, key
    lm = pretrained.load_standin()
    ids = torch.tensor([lm.tokenizer.encode(pretrained.heldout_text())[:64]])
    with torch.no_grad():
        torch.testing.assert_close(lm.model(ids), hf(ids).logits)
    assert (pretrained.STANDIN / "model.safetensors").stat().st_size <= 5 * 2 ** 20


def test_standin_beats_the_unigram_baseline_on_heldout_text():
    lm = pretrained.load_standin()
    train = lm.tokenizer.encode(" ".join((pretrained.STANDIN.parent / "corpora" / f).read_text()
                                         for f in ("farm_more.txt", "farm_place_first.txt")))
    heldout = lm.tokenizer.encode(pretrained.heldout_text())
    assert len(heldout) >= 200  # "a few hundred words"
    counts, V = Counter(train), lm.tokenizer.vocab_size  # unigram: word frequencies, add-one smoothed
    unigram = math.exp(-sum(math.log((counts[i] + 1) / (len(train) + V)) for i in heldout) / len(heldout))
    assert pretrained.unigram_perplexity(train, heldout, V) == pytest.approx(unigram)
    model_ppl = lm.perplexity(pretrained.heldout_text())
    assert model_ppl < unigram / 4, (model_ppl, unigram)  # clearly better than counting words


def test_word_tokenizer():
    tokenizer = pretrained.load_standin().tokenizer
    assert tokenizer.encode("The cat naps.") == tokenizer.encode("the cat naps .")
    assert tokenizer.decode(tokenizer.encode("the cow eats hay .")) == "the cow eats hay ."
    message = one_line_error("'unicorn' is not in the stand-in's vocabulary", tokenizer.encode, "the unicorn naps")
    assert "cat" in message  # it lists the words it knows


def write_bpe_tokenizer(folder):
    """A small byte-level BPE of GPT-2's kind, trained here (GPT-2's own tokenizer.json is a download)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([pretrained.heldout_text()], trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"]))
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder / "tokenizer.json"


def test_bpe_tokenizer_round_trips_any_english_text(tmp_path):
    bpe = pretrained.BPETokenizer(write_bpe_tokenizer(tmp_path))
    text = "Parameters are numbers; a naïve café model still spells 'Zyzzyva' — byte by byte, 100% of it!"
    assert bpe.decode(bpe.encode(text)) == text  # bytes: no unknown words
    assert "Ġcow" in bpe.tokenize("the cow")  # a piece that starts with a space


# ---- getting GPT-2: the Hub when it answers, else the stand-in ----------------------------------------------------
def test_offline_setting_falls_back_fast_and_says_why(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    lm = pretrained.load_gpt2(cache_dir=tmp_path)
    assert time.perf_counter() - start < 2.0
    assert lm.name == "stand-in" and "HF_HUB_OFFLINE" in lm.reason
    assert "stand-in" in str(lm) and "HF_HUB_OFFLINE" in str(lm)


def test_unreachable_hub_falls_back_fast(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reachable, _ = pretrained.hub_reachable(timeout=1.0)
    if reachable:
        pytest.skip("the Hub is reachable here: load_gpt2() would download GPT-2")
    start = time.perf_counter()
    lm = pretrained.load_gpt2(timeout=1.0, cache_dir=tmp_path)
    assert time.perf_counter() - start < 2.0
    assert lm.name == "stand-in" and "not in the local cache" in lm.reason
    assert pretrained.load_gpt2(prefer="standin").reason == "prefer='standin'"
    one_line_error("prefer must be one of", pretrained.load_gpt2, "huggingface")


@pytest.mark.parametrize("cached", [False, True], ids=["first-run", "cached"])
def test_hub_path_with_a_stand_in_hub(monkeypatch, tmp_path, cached):
    """The online code path, run offline: huggingface_hub's two calls answered from a local folder."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    repo = tmp_path / "repo"
    repo.mkdir()
    bpe = pretrained.BPETokenizer(write_bpe_tokenizer(repo))
    random_hf_model(vocab_size=bpe.vocab_size).save_pretrained(repo, safe_serialization=True)
    calls = []

    def fake_download(repo_id, filename, *, local_files_only=False, **kwargs):
        calls.append((filename, local_files_only))
        if local_files_only and not cached:  # an empty cache, as on a learner's first run
            raise LocalEntryNotFoundError("not cached")
        return str(repo / filename)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, timeout: None)
    lm = pretrained.load_gpt2()
    assert lm.name == "gpt2" and isinstance(lm.tokenizer, pretrained.BPETokenizer), lm.reason
    if cached:  # no request at all
        assert calls == [(f, True) for f in pretrained.HUB_FILES] and "local Hugging Face cache" in lm.reason
    else:
        assert calls == [("config.json", True)] + [(f, False) for f in pretrained.HUB_FILES]
        assert lm.reason == "openai-community/gpt2 from the Hugging Face Hub"
    assert lm.model.config.vocab_size == lm.tokenizer.vocab_size
    assert len(lm.complete("Any English text", 3)) > 0 and lm.perplexity("Any English text, even this.") > 1


def test_real_gpt2_from_the_hub():
    reachable, why = pretrained.hub_reachable()
    if not reachable:
        pytest.skip(f"needs the Hugging Face Hub: {why}")
    lm = pretrained.load_gpt2()
    assert lm.name == "gpt2", lm.reason
    assert sum(p.numel() for p in lm.model.parameters()) == formula_count(lm.model.config)
    assert lm.tokenizer.encode("Hello world") == [15496, 995]  # GPT-2's BPE ids for 'Hello', ' world'
    hf = GPT2LMHeadModel.from_pretrained(lm.source).eval()  # the same downloaded files, read by transformers
    ids = torch.tensor([lm.tokenizer.encode("The knobs of a real language model are its parameters.")])
    with torch.no_grad():
        torch.testing.assert_close(lm.model(ids), hf(ids).logits, rtol=1e-4, atol=1e-4)
