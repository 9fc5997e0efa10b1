"""Looking inside a trained model: ablation, attribution and probes (chapters 1 and 9).

- `single_weight_effects`: set each parameter to zero, one at a time, and measure the change in one
  prediction (chapter 1: where does "cow eats -> hay" live?);
- `hidden_unit_effects`: replace each hidden unit's output by zero (zero-ablation) or by a baseline value
  such as its mean activation (mean-ablation);
- `gradient_x_weight`: w·∂f/∂w for every parameter at once, the first-order estimate of how much f would
  *drop* if that one parameter alone were set to zero (f(w) − f(0) ≈ w·∂f/∂w, so the change is ≈ −w·∂f/∂w);
- `zeroing_change`: the actual change in log P when a parameter (or a whole tensor) is set to zero;
- `linear_probe`: can a linear classifier read a property off the hidden activations?
- `control_task_labels`, `probe_selectivity`, `selectivity_over_controls`: Hewitt and Liang's (2019) control task: each input type gets
  a random label at the task's label rate; selectivity = task accuracy − control-task accuracy.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from knobs.data import Vocab
from knobs.models import check_tiny_lm
from knobs.validate import check_bool, check_instance, check_int, check_tensor, check_text, fail


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
def hidden_unit_effects(model, vocab, context: str, word: str, baseline: torch.Tensor | None = None) -> torch.Tensor:
    """Change in P(word | context) when each hidden unit's output is replaced, one unit at a time (chapter 9).

    By zero (zero-ablation, the default; for a tanh unit 0 is the middle of its range, not "off"), or by
    `baseline[i]`, e.g. the unit's mean activation over a dataset (mean-ablation).
    """
    _check(model, vocab, context, word)
    hidden = model.config.hidden
    if baseline is None:
        baseline = torch.zeros(hidden)
    elif check_tensor("baseline", baseline, floating=True, dim=1).shape != (hidden,):
        fail("baseline", f"one value per hidden unit (shape ({hidden},))", baseline)
    ids = torch.tensor([vocab.encode(context)[-model.config.context:]])
    h = torch.tanh(model.hidden(model.embed(ids).flatten(1)))  # (1, hidden)
    base = torch.softmax(model.out(h), -1)[0, vocab.id(word)]
    eye = torch.eye(hidden)
    ablated = h.repeat(hidden, 1) * (1 - eye) + eye * baseline.to(h.dtype)  # row i: unit i replaced
    return torch.softmax(model.out(ablated), -1)[:, vocab.id(word)] - base


def gradient_x_weight(model, vocab, context: str, word: str) -> dict[str, torch.Tensor]:
    """w·∂log P(word | context)/∂w for every parameter (chapter 9).

    Each entry is the first-order estimate of how much log P would DROP if that one parameter alone were set
    to zero: log P(w) − log P(0) ≈ w·∂log P/∂w. The change from zeroing is therefore ≈ −w·∂log P/∂w. The
    estimates are one parameter at a time: their sum over a tensor does not predict zeroing the tensor.
    """
    _check(model, vocab, context, word)
    ids = torch.tensor([vocab.encode(context)[-model.config.context:]])
    model.zero_grad()
    torch.log_softmax(model(ids), -1)[0, vocab.id(word)].backward()
    out = {name: (p.grad * p).detach() for name, p in model.named_parameters()}
    model.zero_grad()
    return out


@torch.no_grad()
def zeroing_change(model, vocab, context: str, word: str, name: str, index: tuple | int | None = None) -> float:
    """Actual change in log P(word | context) when parameter `name` (at `index`, or the whole tensor) is set to zero.

    The model is left exactly as it was (chapter 9: the ablation that gradient × weight estimates).
    """
    _check(model, vocab, context, word)
    params = dict(model.named_parameters())
    if name not in params:
        fail("name", f"one of the model's parameters ({', '.join(params)})", name)
    param = params[name]
    ids = torch.tensor([vocab.encode(context)[-model.config.context:]])

    def log_prob() -> float:
        return float(torch.log_softmax(model(ids), -1)[0, vocab.id(word)])

    kept = param.detach().clone()
    base = log_prob()
    try:
        if index is None:
            param.zero_()
        else:
            try:
                param[index] = 0.0
            except (IndexError, TypeError) as error:
                fail("index", f"an index into {name} (shape {tuple(param.shape)}), or None for the whole tensor",
                     index)
        return log_prob() - base
    finally:
        param.copy_(kept)  # put the knobs back exactly where they were


def hidden_activations(model, X: torch.Tensor) -> torch.Tensor:
    """The tiny model's hidden-layer outputs for each context in X: (N, hidden), what a probe reads."""
    check_tiny_lm(model, exact=True)
    check_tensor("X", X, integer=True, dim=2)
    with torch.no_grad():
        return torch.tanh(model.hidden(model.embed(X).flatten(1)))  # (N, hidden)


def linear_probe(features: torch.Tensor, labels: torch.Tensor, test_mask: torch.Tensor | None = None,
                 steps: int = 300, seed: int = 0, balanced: bool = False) -> float:
    """Held-out accuracy of a logistic-regression probe reading `labels` from `features`.

    `test_mask` marks the held-out rows (default: a random half). `balanced`: the mean of the per-class
    accuracies (recall) over the classes in the held-out rows, which a majority-class guess cannot inflate.
    """
    check_bool("balanced", balanced)
    plain, per_class = _probe_accuracies(features, labels, test_mask, steps, seed)
    return per_class if balanced else plain


def _probe_accuracies(features, labels, test_mask, steps, seed) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of one trained probe on the held-out rows."""
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
        right = probe(features[test_idx]).argmax(-1) == labels[test_idx]
    held_out = labels[test_idx]
    per_class = torch.stack([right[held_out == c].float().mean() for c in held_out.unique()]).mean()
    return float(right.float().mean()), float(per_class)


def control_task_labels(X: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Hewitt and Liang's (2019) control task for a probe: one random label per input *type* (chapter 9).

    Each distinct row of X (here a context, the type the representation is computed from) draws its label
    once, from the empirical distribution of `labels`; every occurrence of the type gets that label. The
    control labels keep the task's label rate and its type-to-label consistency, but mean nothing.
    """
    check_tensor("X", X, integer=True, dim=2)
    check_tensor("labels", labels, integer=True, dim=1)
    if len(labels) != len(X):
        fail("labels", f"one label per row of X ({len(X)})", labels)
    check_int("seed", seed, 0)
    types, type_of_row = X.unique(dim=0, return_inverse=True)  # (T, context), (N,)
    rate = torch.bincount(labels).double()
    generator = torch.Generator().manual_seed(seed)
    type_labels = torch.multinomial(rate / rate.sum(), len(types), replacement=True, generator=generator)
    return type_labels[type_of_row]


def probe_selectivity(features: torch.Tensor, X: torch.Tensor, labels: torch.Tensor, seed: int = 0
                      ) -> dict[str, float]:
    """Task accuracy, control-task accuracy and selectivity (their difference) of the same linear probe (chapter 9).

    The same probe, split and seed read `labels` and `control_task_labels(X, labels, seed)` from `features`.
    The keys ending in `_balanced` give the same with balanced accuracy (the mean of the per-class accuracies).
    """
    check_int("seed", seed, 0)
    task = _probe_accuracies(features, labels, None, 300, seed)
    control_labels = control_task_labels(X, labels, seed=seed)
    control = _probe_accuracies(features, control_labels, None, 300, seed)
    return {"task": task[0], "control": control[0], "selectivity": task[0] - control[0],
            "task_balanced": task[1], "control_balanced": control[1], "selectivity_balanced": task[1] - control[1],
            "control_rate": float((control_labels != 0).float().mean())}


def selectivity_over_controls(features: torch.Tensor, X: torch.Tensor, labels: torch.Tensor,
                              control_seeds=range(5)) -> dict:
    """Selectivity averaged over several control-task draws (chapter 9).

    With few input types, one draw of the control labels is a noisy control: its realised share of positive
    pairs varies, and so does the selectivity. The task probe is fitted once (split and probe seed 0); the
    control labels are drawn with each seed in `control_seeds` and read by the same probe on the same split
    (the draw with seed 0 is `probe_selectivity`'s). Returns the task accuracy, each draw's selectivity and
    realised control rate (share of pairs labelled non-zero), and the mean and standard deviation of the
    selectivities.
    """
    if not isinstance(control_seeds, (range, list, tuple)):
        fail("control_seeds", "a list, tuple or range of at least two seeds (whole numbers, 0 or more)", control_seeds)
    seeds = [check_int("control_seeds", s, 0) for s in control_seeds]
    if len(seeds) < 2:
        fail("control_seeds", "at least two seeds", control_seeds)
    task = _probe_accuracies(features, labels, None, 300, 0)[0]
    selectivities, rates = [], []
    for s in seeds:
        control_labels = control_task_labels(X, labels, seed=s)
        selectivities.append(task - _probe_accuracies(features, control_labels, None, 300, 0)[0])
        rates.append(float((control_labels != 0).float().mean()))
    values = torch.tensor(selectivities, dtype=torch.float64)
    return {"task": task, "selectivities": selectivities, "control_rates": rates,
            "mean": float(values.mean()), "sd": float(values.std()), "seeds": seeds}
