"""Looking inside a trained model: ablation, attribution and probes (chapters 1 and 9).

- `single_weight_effects`: set each parameter to zero, one at a time, and measure the change in one
  prediction (chapter 1: where does "cow eats -> hay" live?);
- `hidden_unit_effects`: switch each hidden unit off (ablation);
- `gradient_x_weight`: a first-order estimate of the same, for every parameter at once;
- `linear_probe`: can a linear classifier read a property off the hidden activations?
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from knobs.data import Vocab
from knobs.models import check_tiny_lm
from knobs.validate import check_instance, check_int, check_tensor, check_text, fail


def _check(model, vocab, context, word) -> None:
    check_tiny_lm(model, exact=True)
    check_instance("vocab", vocab, Vocab, "a knobs Vocab (e.g. data.farm_split().vocab)")
    check_text("context", context)
    check_text("word", word)


@torch.no_grad()
def single_weight_effects(model, vocab, context: str, word: str) -> torch.Tensor:
    """Change in P(word | context) when each single parameter is set to zero (one at a time)."""
    _check(model, vocab, context, word)
    ids = torch.tensor([vocab.encode(context)[-model.config.context:]])
    target = vocab.id(word)

    def prob() -> float:
        return float(torch.softmax(model(ids)[0], dim=-1)[target])

    base, effects = prob(), []
    for param in model.parameters():
        flat = param.view(-1)
        for i in range(flat.numel()):
            kept = flat[i].item()
            flat[i] = 0.0
            effects.append(prob() - base)
            flat[i] = kept  # put the knob back exactly where it was
    return torch.tensor(effects)


@torch.no_grad()
def hidden_unit_effects(model, vocab, context: str, word: str) -> torch.Tensor:
    """Change in P(word | context) when each hidden unit is switched off (its output set to 0), one at a time."""
    _check(model, vocab, context, word)
    ids = torch.tensor([vocab.encode(context)[-model.config.context:]])
    h = torch.tanh(model.hidden(model.embed(ids).flatten(1)))  # (1, hidden)
    base = torch.softmax(model.out(h), -1)[0, vocab.id(word)]
    ablated = h.repeat(h.shape[1], 1) * (1 - torch.eye(h.shape[1]))  # row i: unit i off
    return torch.softmax(model.out(ablated), -1)[:, vocab.id(word)] - base


def gradient_x_weight(model, vocab, context: str, word: str) -> dict[str, torch.Tensor]:
    """Attribution of log P(word | context) to every parameter: gradient × value (first-order effect of zeroing it)."""
    _check(model, vocab, context, word)
    ids = torch.tensor([vocab.encode(context)[-model.config.context:]])
    model.zero_grad()
    torch.log_softmax(model(ids), -1)[0, vocab.id(word)].backward()
    out = {name: (p.grad * p).detach() for name, p in model.named_parameters()}
    model.zero_grad()
    return out


def hidden_activations(model, X: torch.Tensor) -> torch.Tensor:
    """The tiny model's hidden-layer outputs for each context in X: (N, hidden), what a probe reads."""
    check_tiny_lm(model, exact=True)
    check_tensor("X", X, integer=True, dim=2)
    with torch.no_grad():
        return torch.tanh(model.hidden(model.embed(X).flatten(1)))  # (N, hidden)


def linear_probe(features: torch.Tensor, labels: torch.Tensor, test_mask: torch.Tensor | None = None,
                 steps: int = 300, seed: int = 0) -> float:
    """Held-out accuracy of a logistic-regression probe reading `labels` from `features`.

    `test_mask` marks the held-out rows (default: a random half).
    """
    check_tensor("features", features, floating=True, dim=2)
    check_tensor("labels", labels, integer=True, dim=1)
    if len(labels) != len(features) or len(labels) < 4:
        fail("labels", f"the same length as features ({len(features)} rows, at least 4)", labels)
    if test_mask is not None and (check_tensor("test_mask", test_mask).dtype != torch.bool
                                  or test_mask.shape != labels.shape):
        fail("test_mask", f"a bool tensor of shape {tuple(labels.shape)} (True: held out)", test_mask)
    check_int("steps", steps, 1)
    check_int("seed", seed, 0)
    if test_mask is None:
        generator = torch.Generator().manual_seed(seed)
        test_mask = torch.zeros(len(labels), dtype=torch.bool)
        test_mask[torch.randperm(len(labels), generator=generator)[: len(labels) // 2]] = True
    train_idx, test_idx = (~test_mask).nonzero().squeeze(1), test_mask.nonzero().squeeze(1)
    torch.manual_seed(seed)
    probe = torch.nn.Linear(features.shape[1], int(labels.max()) + 1)
    opt = torch.optim.Adam(probe.parameters(), lr=0.05)
    for _ in range(steps):
        loss = F.cross_entropy(probe(features[train_idx]), labels[train_idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((probe(features[test_idx]).argmax(-1) == labels[test_idx]).float().mean())
