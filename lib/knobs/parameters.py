"""Chapter 1's experiments: where a prediction lives, and hyperparameters chosen by a program."""
from __future__ import annotations

import torch

from knobs import models, train


@torch.no_grad()
def single_weight_effects(model, vocab, context: str, word: str) -> torch.Tensor:
    """Change in P(word | context) when each single parameter is set to zero (one at a time)."""
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


def random_search_lr(X, y, X_val, y_val, vocab_size: int, trials: int = 6, steps: int = 150,
                     low: float = 1e-3, high: float = 1.0, seed: int = 0) -> list[tuple[float, float]]:
    """Automated hyperparameter search: log-uniform random learning rates, judged on validation loss."""
    if trials < 1 or not 0 < low < high:
        raise ValueError(f"need trials >= 1 and 0 < low < high, got trials={trials}, low={low}, high={high}")
    generator = torch.Generator().manual_seed(seed)
    exponents = torch.empty(trials).uniform_(torch.log10(torch.tensor(low)).item(),
                                             torch.log10(torch.tensor(high)).item(), generator=generator)
    results = []
    for lr in sorted((10 ** exponents).tolist()):
        model = models.make_tiny_lm(vocab_size, seed=seed)
        *_, last = train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=steps, lr=lr, every=steps, seed=seed)
        results.append((lr, last.metrics.get("val_loss", float("nan"))))
    return results
