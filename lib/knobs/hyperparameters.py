"""Hyperparameters chosen by a program: random search over the learning rate (chapter 1).

What makes a number a hyperparameter is that training does not update it, not who sets it:
here a loop picks learning rates at random (log-uniform, as Bergstra & Bengio 2012 recommend)
and keeps the one with the lowest validation loss.
"""
from __future__ import annotations

import torch

from knobs import models, train


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
        last = train.run_to_end(train.train_lm(model, X, y, X_val=X_val, y_val=y_val, steps=steps, lr=lr,
                                               every=steps, seed=seed))
        results.append((lr, last.metrics.get("val_loss", float("nan"))))
    return results
