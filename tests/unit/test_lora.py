"""knobs.lora: a LoRA layer equals its explicit weight update (and its gradients), starts at the base, counts."""
import pytest
import torch
from torch.nn import functional as F

from knobs import models
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


def test_b_zero_a_random_learns_but_both_zero_never_gets_a_gradient():
    """Why LoRA starts A random: with A = B = 0 both gradients are zero, on every step."""
    torch.manual_seed(0)
    x = torch.randn(4, 6)
    layer = LoRALinear(torch.nn.Linear(6, 5), rank=2)
    layer(x).pow(2).sum().backward()
    assert not layer.A.grad.any() and layer.B.grad.any()  # B = 0 stops A's gradient, not B's
    stuck = LoRALinear(torch.nn.Linear(6, 5), rank=2)
    with torch.no_grad():
        stuck.A.zero_()
    opt = torch.optim.Adam([stuck.A, stuck.B], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        stuck(x).pow(2).sum().backward()
        assert not stuck.A.grad.any() and not stuck.B.grad.any()
        opt.step()
    assert not stuck.A.any() and not stuck.B.any()  # still zero: it never learns


def test_gpt2_lora_count_for_the_papers_w_q_and_w_v():
    config = models.GPT2Config()
    assert gpt2_lora_count(config, 4, targets=("attn_q", "attn_v")) == 12 * 2 * 4 * (768 + 768) == 147_456
    assert gpt2_lora_count(config, 4, targets=("attn_q", "attn_k", "attn_v")) == 12 * 3 * 4 * 1536
