import io
import pickle

import pytest
import torch
from torch.nn import functional as F

from knobs import models, transfer
from knobs.labs import ch08
from knobs.lora import LoRALinear, gpt2_lora_count, lora_parameter_count


def test_lora_matches_explicit_weight_update_and_its_gradients():
    torch.manual_seed(0)
    base = torch.nn.Linear(6, 5)
    layer = LoRALinear(base, rank=2, alpha=4)
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(3, 6)
    expected = F.linear(x, base.weight + (4 / 2) * layer.B @ layer.A, base.bias)
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.merge()(x), expected)
    layer(x).sum().backward()
    assert base.weight.grad is None and base.bias.grad is None  # frozen
    A, B = layer.A.detach().requires_grad_(), layer.B.detach().requires_grad_()
    F.linear(x, base.weight + 2 * B @ A, base.bias).sum().backward()
    torch.testing.assert_close(layer.A.grad, A.grad)
    torch.testing.assert_close(layer.B.grad, B.grad)


def test_lora_starts_exactly_at_the_pretrained_function_and_counts():
    base = torch.nn.Linear(16, 32)
    layer = LoRALinear(base, rank=3)
    x = torch.randn(4, 16)
    assert torch.equal(layer(x), base(x))
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    assert trainable == lora_parameter_count(16, 32, 3) == 3 * (16 + 32)


def test_gpt2_lora_count_matches_building_the_adapters():
    config = models.GPT2Config(n_layer=2, n_embd=32)
    built = sum(lora_parameter_count(32, 96, 4) + lora_parameter_count(32, 32, 4) for _ in range(2))
    assert gpt2_lora_count(config, 4) == built
    with pytest.raises(ValueError, match="targets"):
        gpt2_lora_count(config, 4, targets=("wte",))


@pytest.mark.parametrize("rank", [0, 99, 2.5])
def test_lora_rank_out_of_range(rank):
    with pytest.raises(ValueError, match="rank must be"):
        LoRALinear(torch.nn.Linear(4, 4), rank=rank)


def test_strategies_train_what_they_say():
    counts = {s: transfer.trainable_count(transfer.prepare(s, rank=2)) for s in transfer.STRATEGIES}
    lm = transfer.pretrained_lm()
    total = models.count_parameters(lm).total
    assert counts["full fine-tune"] == counts["from scratch"] == total
    assert counts["freeze embeddings"] == total - lm.embed.weight.numel()
    assert counts["output layer only"] == lm.out.weight.numel() + lm.out.bias.numel()
    c = lm.config
    assert counts["LoRA"] == lora_parameter_count(2 * c.embed_dim, c.hidden, 2) + lora_parameter_count(c.hidden, c.vocab_size, 2)
    with pytest.raises(ValueError, match="strategy must be one of"):
        transfer.prepare("everything")


def test_fine_tuning_beats_scratch_and_lora_never_writes_pretrained_tensors():
    scratch = list(transfer.fine_tune("from scratch", steps=150, every=150))[-1]
    tuned = list(transfer.fine_tune("full fine-tune", steps=150, every=150))[-1]
    lora = list(transfer.fine_tune("LoRA", steps=150, every=150))[-1]
    assert tuned.metrics["test_loss"] < scratch.metrics["test_loss"]
    assert tuned.metrics["old_loss"] > 2 * list(transfer.fine_tune("full fine-tune", steps=1, every=1))[0].metrics["old_loss"]
    assert lora.info["change"]["embed.weight"] == 0.0 and lora.info["change"]["hidden.bias"] == 0.0
    assert lora.info["change"]["hidden.weight"] > 0.0


def test_style_task_has_no_test_sentence_from_training():
    task = transfer.make_style_task(12)
    assert len(task.train_sentences) == 12 and len(task.y_test) > len(task.y_train)
    with pytest.raises(ValueError, match="n_sentences"):
        transfer.make_style_task(0)


def test_weights_only_load_refuses_code_but_round_trips_tensors():
    class Payload:
        def __reduce__(self):
            return (print, ("ran",))

    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2), "x": Payload()}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(buffer, weights_only=True)
    model = models.make_tiny_lm(29)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


def test_lab_declares_and_draws():
    lab = ch08.fine_tuning_lab()
    lab.reset({"strategy": "LoRA", "rank": 2})
    assert lab.advance()
    assert "Trainable numbers" in lab.describe()


def test_switching_adapters_off_restores_the_pretrained_tensors_exactly():
    model = transfer.prepare("LoRA", rank=2)
    with torch.no_grad():
        model.hidden.B.normal_()
    on = transfer.effective_tensors(model)["hidden.weight"]
    model.hidden.enabled = False
    off = transfer.effective_tensors(model)["hidden.weight"]
    assert not torch.equal(on, off)
    assert torch.equal(off, transfer.pretrained_lm().hidden.weight.detach())
