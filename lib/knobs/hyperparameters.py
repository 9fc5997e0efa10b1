"""Hyperparameters chosen by a program: random search over the learning rate (chapter 1).

What makes a number a hyperparameter is that training does not update it, not who sets it:
here a loop picks learning rates at random (log-uniform, as Bergstra & Bengio 2012 recommend)
and keeps the one with the lowest validation loss.
"""
from __future__ import annotations

import torch

from knobs import models, train
from knobs.validate import check_examples, check_int, check_number, fail


def random_search_lr(X, y, X_val, y_val, vocab_size: int, trials: int = 6, steps: int = 150,
                     low: float = 1e-3, high: float = 1.0, seed: int = 0) -> list[tuple[float, float]]:
    """Automated hyperparameter search: log-uniform random learning rates, judged on validation loss."""
    check_examples(X, y)
    check_examples(X_val, y_val, names=("X_val", "y_val"))
    check_int("vocab_size", vocab_size, 2)
    check_int("trials", trials, 1, 1000)
    check_int("steps", steps, 1)
    check_number("low", low, 0, 100, low_open=True)
    if check_number("high", high, 0, 100, low_open=True) <= low:
        fail("high", f"above low ({low:g})", high)
    check_int("seed", seed, 0)
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
