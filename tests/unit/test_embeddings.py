"""Chapter 4's algorithms, each checked against PyTorch's own; its lab, exercises and quiz."""
import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.testing import assert_close

from knobs import embeddings as emb
from knobs import models
from knobs.data import Vocab


# ---- the lookup ---------------------------------------------------------------------------------
def test_one_hot_matches_torch():
    ids = torch.tensor([[0, 3], [4, 4], [2, 1]])
    assert_close(emb.one_hot(ids, 5), F.one_hot(ids, 5).float())


def test_lookup_by_one_hot_equals_nn_embedding_forward_and_gradient():
    torch.manual_seed(0)
    table = nn.Embedding(7, 3)
    ids = torch.tensor([[1, 5], [5, 0], [6, 1]])  # (B, context), with repeats
    E = table.weight.detach().clone().requires_grad_(True)
    by_product = emb.lookup_by_one_hot(E, ids)
    by_lookup = table(ids)
    assert_close(by_product, by_lookup)
    upstream = torch.randn_like(by_lookup)
    (by_product * upstream).sum().backward()
    (by_lookup * upstream).sum().backward()
    assert_close(E.grad, table.weight.grad)  # same gradient too: repeated words add up in their row


def test_only_rows_of_batch_words_receive_gradient():
    model = models.make_tiny_lm(29, seed=0)
    X = torch.tensor([[3, 7], [7, 11]])
    y = torch.tensor([20, 25])
    F.cross_entropy(model(X), y).backward()
    assert emb.rows_with_gradient(model.embed.weight.grad) == [3, 7, 11]  # not the targets 20, 25
    assert model.out.weight.grad.abs().sum(dim=1).gt(0).all()  # the output layer's rows all get one


def test_rows_with_gradient_needs_a_gradient():
    with pytest.raises(ValueError, match="backward"):
        emb.rows_with_gradient(None)


@pytest.mark.parametrize("ids, message", [(torch.tensor([0, 9]), "between 0 and 4"), (torch.tensor([0.5]), "whole-number")])
def test_one_hot_refuses_bad_ids(ids, message):
    with pytest.raises(ValueError, match=message):
        emb.one_hot(ids, 5)


# ---- closeness ----------------------------------------------------------------------------------
def test_cosine_similarity_matches_torch():
    torch.manual_seed(1)
    a, b = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64)
    assert_close(emb.cosine_similarity(a, b), F.cosine_similarity(a, b, dim=-1))
    assert_close(emb.cosine_similarity(a, b, dim=0), F.cosine_similarity(a, b, dim=0))
    # broadcasting, as in an all-pairs table
    assert_close(emb.cosine_similarity(a[:, None, :], b[None, :, :]), F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1))
    # a zero vector: eps keeps it finite, exactly as PyTorch
    zero = torch.zeros(5, dtype=torch.float64)
    assert_close(emb.cosine_similarity(zero, b[0]), F.cosine_similarity(zero, b[0], dim=0))


def test_cosine_similarity_ignores_length_but_not_direction():
    a = torch.tensor([1.0, 2.0])
    assert_close(emb.cosine_similarity(a, 10 * a), torch.tensor(1.0))
    assert_close(emb.cosine_similarity(a, -a), torch.tensor(-1.0))
    assert_close(emb.cosine_similarity(a, torch.tensor([-2.0, 1.0])), torch.tensor(0.0))


def test_similarity_matrix_matches_torch():
    E = torch.randn(9, 4)
    assert_close(emb.similarity_matrix(E), F.cosine_similarity(E[:, None, :], E[None, :, :], dim=-1))


VOCAB = Vocab(("a", "b", "c", "d", "e"))


def test_nearest_words_ranks_by_cosine_and_leaves_the_word_out():
    E = torch.tensor([[1.0, 0.0], [0.9, 0.1], [5.0, 3.0], [-1.0, 0.0], [0.0, 1.0]])
    got = emb.nearest_words(E, VOCAB, "a", k=4)
    sims = F.cosine_similarity(E, E[0:1], dim=-1)
    order = [VOCAB.words[i] for i in torch.argsort(sims, descending=True).tolist() if i != 0]
    assert [w for w, _ in got] == order[:4] == ["b", "c", "e", "d"]
    assert_close(torch.tensor([s for _, s in got]), sims[[1, 2, 4, 3]])


def test_analogy_is_the_vector_offset_with_inputs_left_out():
    # d = b - a + c exactly; c itself is closer to the target than d is only without the exclusion
    E = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [-1.0, -1.0, 0.0]])
    assert emb.analogy(E, VOCAB, "a", "b", "c")[0][0] == "d"
    target = E[1] - E[0] + E[2]
    sims = F.cosine_similarity(E, target[None], dim=-1)
    assert_close(torch.tensor(emb.analogy(E, VOCAB, "a", "b", "c", k=1, exclude_inputs=False, normalize=False)[0][1]),
                 sims.max())


def test_analogy_normalizes_every_vector_first_as_word2vec_does():
    # 3CosAdd: unit vectors before the offset, so a long vector cannot dominate b - a + c
    E = torch.tensor([[10.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [-1.0, -1.0, 0.5]])
    unit = E / E.norm(dim=1, keepdim=True)
    target = unit[1] - unit[0] + unit[2]
    sims = F.cosine_similarity(unit, target[None], dim=-1)
    sims[[0, 1, 2]] = -float("inf")
    got = emb.analogy(E, VOCAB, "a", "b", "c", k=2)
    assert [w for w, _ in got] == [VOCAB.words[i] for i in torch.argsort(sims, descending=True)[:2].tolist()]
    assert_close(torch.tensor([s for _, s in got]), torch.sort(sims, descending=True).values[:2])
    scaled = emb.analogy(E * 7, VOCAB, "a", "b", "c", k=2)  # scale-free
    assert [w for w, _ in scaled] == [w for w, _ in got]
    assert [s for _, s in scaled] == pytest.approx([s for _, s in got], abs=1e-6)



def test_analogy_without_exclusion_often_returns_an_input():
    E = torch.tensor([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0], [0.3, 1.0], [-1.0, 0.0]])  # a small offset a -> b
    assert emb.analogy(E, VOCAB, "a", "b", "c", exclude_inputs=False)[0][0] == "c"
    assert emb.analogy(E, VOCAB, "a", "b", "c")[0][0] == "d"


def test_neighbor_agreement_and_chance():
    E = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.1]])
    assert emb.neighbor_agreement(E, ["x", "x", "y", "y", "z"]) == pytest.approx(4 / 5)
    assert emb.neighbor_agreement(E, ["x", "y", "x", "y", "z"]) == 0.0
    labels = ["x", "x", "y", "y", "z"]  # chance: 2 of 20 ordered pairs share a label per group
    assert emb.chance_agreement(labels) == pytest.approx((2 + 2) / 20)
    # a random table's agreement averages out near chance
    rng = torch.Generator().manual_seed(0)
    labels = [str(i % 3) for i in range(30)]
    runs = [emb.neighbor_agreement(torch.randn(30, 6, generator=rng), labels) for _ in range(200)]
    assert np.mean(runs) == pytest.approx(emb.chance_agreement(labels), abs=0.03)


@pytest.mark.parametrize("call, message", [
    (lambda: emb.nearest_words(torch.randn(5, 2), VOCAB, "a", k=5), "between 1 and 4"),
    (lambda: emb.nearest_words(torch.randn(4, 2), VOCAB, "a"), "4 rows"),
    (lambda: emb.nearest_words(torch.randn(5, 2), VOCAB, "zebra"), "not in the vocabulary"),
    (lambda: emb.analogy(torch.randn(5, 2), VOCAB, "a", "b", "c", k=3), "between 1 and 2"),
    (lambda: emb.cosine_similarity(torch.ones(3), torch.ones(3), eps=0), "eps"),
    (lambda: emb.cosine_similarity(torch.ones(3), torch.ones(3), dim=2), "dim must be between"),
    (lambda: emb.similarity_matrix(torch.ones(5)), "2-D table"),
    (lambda: emb.neighbor_agreement(torch.randn(5, 2), ["x"]), "one label per row"),
])
def test_bad_arguments_are_refused_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_context_profiles_count_what_follows():
    ids = torch.tensor([0, 1, 2, 0, 1, 0])  # a b c a b a
    P = emb.context_profiles(ids, 3)
    # columns: next word a b c, then the word two places on a b c
    assert_close(P, torch.tensor([[0, 0.5, 0, 0.25, 0, 0.25],   # a: b, b next; c, a two on
                                  [0, 0, 0.5, 0.5, 0, 0],       # b: c next; a two on
                                  [0.5, 0, 0, 0, 0.5, 0]]))     # c: a next; b two on
    with pytest.raises(ValueError, match="num_words"):
        emb.context_profiles(ids, 2)


# ---- a fixed 2-D view ---------------------------------------------------------------------------
def test_principal_axes_match_torch_pca_and_eigh():
    torch.manual_seed(2)
    E = torch.randn(40, 6) @ torch.diag(torch.tensor([5.0, 3.0, 1.0, 0.5, 0.2, 0.1]))
    mean, axes = emb.principal_axes(E, k=2)
    assert_close(mean, E.mean(0))
    assert_close(axes.T @ axes, torch.eye(2), atol=1e-5, rtol=0)
    _, _, V = torch.pca_lowrank(E, q=2, center=True, niter=10)
    assert_close(axes @ axes.T, V @ V.T, atol=1e-4, rtol=0)  # same plane (signs may differ)
    values, vectors = torch.linalg.eigh(torch.cov(E.T))
    top = vectors[:, -2:].flip(1)
    assert_close(axes.abs(), top.abs(), atol=1e-4, rtol=0)
    assert_close(emb.project(E, mean, axes).var(0), values[-2:].flip(0), rtol=1e-4, atol=1e-4)
    mean2, axes2 = emb.principal_axes(E.clone(), k=2)
    assert torch.equal(axes, axes2)  # deterministic signs: the same table gives the same view


# ---- rotations ----------------------------------------------------------------------------------
def test_random_rotation_is_a_rotation():
    R = emb.random_rotation(8, seed=3)
    assert_close(R @ R.T, torch.eye(8), atol=1e-5, rtol=0)
    assert torch.linalg.det(R) == pytest.approx(1.0, abs=1e-4)
    assert torch.equal(R, emb.random_rotation(8, seed=3)) and not torch.equal(R, emb.random_rotation(8, seed=4))


def test_rotating_embedding_and_first_layer_changes_no_output(trained_model, farm):
    X = farm[1][:50]
    R = emb.random_rotation(trained_model.config.embed_dim, seed=0)
    rotated = emb.rotate_tiny_lm(trained_model, R)
    assert_close(rotated(X), trained_model(X), atol=1e-5, rtol=1e-5)
    E, E_rot = trained_model.embed.weight.detach(), rotated.embed.weight.detach()
    assert (E - E_rot).abs().max() > 0.5  # every coordinate moved ...
    assert_close(emb.similarity_matrix(E_rot), emb.similarity_matrix(E), atol=1e-5, rtol=0)  # ... no angle did
    # the test can fail: rotating the embedding alone does change the outputs
    only_embedding = emb.rotate_tiny_lm(trained_model, R)
    only_embedding.hidden.weight.data.copy_(trained_model.hidden.weight)
    assert (only_embedding(X) - trained_model(X)).abs().max() > 0.1


def test_rotate_refuses_wrong_matrices(trained_model):
    with pytest.raises(ValueError, match="8 × 8"):
        emb.rotate_tiny_lm(trained_model, torch.eye(3))
    with pytest.raises(ValueError, match="orthogonal"):
        emb.rotate_tiny_lm(trained_model, 2 * torch.eye(8))


# ---- real models ----------------------------------------------------------------------------------
def test_gpt2_embedding_share_matches_the_built_tensors():
    gpt2 = models.make_gpt2()
    share = emb.embedding_share()
    assert share["token"] == gpt2.wte.weight.numel() == 50257 * 768
    assert share["position"] == gpt2.wpe.weight.numel() == 1024 * 768
    assert share["total"] == models.count_parameters(gpt2).total
    assert gpt2.lm_head.weight is gpt2.wte.weight  # tied: one tensor in two places
    assert 0.31 < share["share"] < 0.32


def test_parameters_by_vocab_size():
    config = models.GPT2Config()
    tied, untied = emb.parameters_by_vocab_size([1000, 50257]), emb.parameters_by_vocab_size([1000, 50257], tied=False)
    assert tied[1] == models.count_parameters(models.make_gpt2(config)).total
    assert tied[1] - tied[0] == (50257 - 1000) * 768
    assert untied[1] - untied[0] == 2 * (50257 - 1000) * 768
    with pytest.raises(ValueError, match="vocabulary size"):
        emb.parameters_by_vocab_size([0])


# ---- the lab ------------------------------------------------------------------------------------
def test_embedding_lab_runs_and_clusters_form():
    from knobs.chapters import ch04

    lab = ch04.embedding_lab()
    lab.reset({"steps": 300})
    first = lab.snapshot
    assert first.info["xy"].shape == (29, 2) and lab.steps == 300
    while lab.advance(draw=False):
        pass
    last = lab.snapshot
    assert last.step == 300 and not lab.status
    assert last.metrics["val_loss"] < first.metrics["val_loss"] - 2
    chance = ch04.LossAndAgreementView(ch04.word_labels()).chance
    assert first.metrics["same_category"] < chance + 0.1 < last.metrics["same_category"] - 0.1
    lab.redraw()
    assert lab.frame("jpeg")[:2] == b"\xff\xd8"
    assert "nearest neighbour" in lab.describe()


def test_wide_embedding_is_shown_along_fixed_axes():
    from knobs.embeddings import project
    from knobs.chapters import ch04

    lab = ch04.embedding_lab()
    lab.reset({"embed_dim": 8, "steps": 60})
    axes = ch04.trained_view_axes(8, 0.03, 60)
    while True:
        assert np.allclose(lab.snapshot.info["xy"], project(lab.snapshot.params["embed.weight"], *axes).numpy())
        if not lab.advance(draw=False):
            break
    assert lab.snapshot.step == 60


def test_frames_draw_no_text_artists_and_labels_skip_overlaps():
    from matplotlib.text import Text

    from knobs.chapters import ch04

    lab = ch04.embedding_lab()
    lab.reset()
    animated = [a for view in lab.renderer.views for a in view.artists]
    assert not any(isinstance(a, Text) for a in animated)  # per-frame text would blow the frame budget
    labels = next(a for a in animated if isinstance(a, ch04.WordLabels))
    labels.set_positions(np.zeros((29, 2)))  # every word at one point: only one label fits
    labels.axes.draw_artist(labels)  # the way the renderer blits it
    assert len(labels.shown) == 1


@pytest.mark.parametrize("values, message", [({"embed_dim": 1}, "between 2 and 16"), ({"lr": 5.0}, "between 0.001 and 1"),
                                             ({"steps": 10}, "between 50 and 1000")])
def test_embedding_lab_refuses_bad_values(values, message):
    from knobs.chapters import ch04

    with pytest.raises(ValueError, match=message):
        ch04.embedding_lab().reset(values)


def test_twin_frames_span_the_twins_training_steps():
    import re

    from knobs.chapters import ch04

    lab = ch04.embedding_lab()
    for control in lab.controls:  # one small setting keeps the test fast
        control.twin = {"embed_dim": (2,), "lr": (0.03,), "steps": (60,)}[control.name]
    lab.twin_frames = 3
    data = json.loads(re.search(r'class="knobs-twin-data">(.*?)</script>', lab.twin_html(progress=False), re.S).group(1))
    assert data["steps"] == [0, 30, 60]
    assert "Step 60 of 60" in data["frames"]["0,0,0"][-1]["text"]


def test_twin_budget():
    from knobs.chapters import ch04

    lab = ch04.embedding_lab()
    settings = np.prod([len(c.twin) for c in lab.controls])
    assert settings * lab.twin_frames <= 60


# ---- exercises and quiz ---------------------------------------------------------------------------
def test_exercise_rows():
    from knobs.exercises import check
    from knobs.exercises.ch04 import rows_batch

    X_batch, y_batch = rows_batch()
    right = len(set(X_batch.flatten().tolist()))
    assert check("ch04.rows", right).ok
    assert "more than once" in check("ch04.rows", X_batch.numel()).message
    assert "output layer" in check("ch04.rows", len(set(X_batch.flatten().tolist()) | set(y_batch.tolist()))).message
    wrong = check("ch04.rows", right + 7)
    assert not wrong.ok and str(right) not in wrong.message


def test_exercise_cosine():
    from knobs.exercises import check
    from knobs.exercises.ch04 import cosine_vectors

    u, v = cosine_vectors()
    right = (u @ v) / (u.norm() * v.norm())
    assert check("ch04.cosine", right).ok and check("ch04.cosine", float(right)).ok  # a tensor or a float
    assert "dot product" in check("ch04.cosine", float(u @ v)).message
    assert "both vectors" in check("ch04.cosine", float(u @ v / u.norm())).message
    assert "distance" in check("ch04.cosine", 1 - float(right)).message
    assert "sign" in check("ch04.cosine", -float(right)).message
    assert "angle" in check("ch04.cosine", float(torch.rad2deg(torch.acos(right)))).message
    assert "between −1 and 1" in check("ch04.cosine", -1.5).message
    wrong = check("ch04.cosine", 0.5)
    assert not wrong.ok and f"{float(right):.2f}" not in wrong.message and f"{float(right):.3f}" not in wrong.message
    # a function of two vectors is accepted too, and a blank one is "not answered", not wrong
    assert check("ch04.cosine", lambda a, b: (a @ b) / (a.norm() * b.norm())).ok
    assert "dot product" in check("ch04.cosine", lambda a, b: a @ b).message
    assert not check("ch04.cosine", lambda a, b: ...).answered
    assert "raised" in check("ch04.cosine", lambda a, b: a @ torch.ones(99)).message


def test_exercise_share():
    from knobs.exercises import check

    share = emb.embedding_share()
    assert check("ch04.share", share["share"]).ok
    assert "percentage" in check("ch04.share", 100 * share["share"]).message
    assert "position" in check("ch04.share", share["token"] / share["total"]).message
    wrong = check("ch04.share", 0.5)
    assert not wrong.ok and f"{share['share']:.2f}" not in wrong.message


def test_quiz_numbers_agree_with_the_computation():
    from knobs.exercises.quiz import load_questions

    questions = load_questions("ch04")
    assert 3 <= len(questions) <= 5
    numeric = next(q for q in questions if q["type"] == "numeric")
    right = next(a for a in numeric["answers"] if a.get("correct"))
    share = emb.embedding_share()
    assert right["type"] == "value" and right["value"] == round(100 * share["share"])
    untied = (2 * share["token"] + share["position"]) / (share["total"] + share["token"])
    untied_answer = next(a for a in numeric["answers"] if "output layer" in a.get("feedback", ""))
    assert untied_answer["range"][0] <= round(100 * untied) < untied_answer["range"][1]
    for q in questions:
        if q["type"] == "multiple_choice":
            assert sum(a["correct"] for a in q["answers"]) == 1
    json.dumps(questions)


# ---- issue 19: tying reaches every row; any invertible map keeps the function, not the angles -------
def test_a_tied_model_gives_every_row_a_gradient_and_an_untied_one_only_the_looked_up_rows():
    X = torch.tensor([[1, 2], [2, 3]])
    y = torch.tensor([4, 0])
    tied = emb.make_tied_tiny_lm(9, embed_dim=4, hidden=6, seed=0)
    F.cross_entropy(tied(X), y).backward()
    assert emb.rows_with_gradient(tied.embed.weight.grad) == list(range(9))
    untied = models.make_tiny_lm(9, embed_dim=4, hidden=6, seed=0)
    F.cross_entropy(untied(X), y).backward()
    assert emb.rows_with_gradient(untied.embed.weight.grad) == [1, 2, 3]
    # the tied model's output layer is the table: no separate (V, ·) output matrix
    assert not any(p.shape[0] == 9 and p.dim() == 2 for n, p in tied.named_parameters() if n != "embed.weight")


def test_transform_keeps_the_function_for_any_invertible_map_and_changes_the_angles():
    model = models.make_tiny_lm(11, embed_dim=5, hidden=7, seed=3)
    X = torch.randint(0, 11, (20, 2), generator=torch.Generator().manual_seed(0))
    A = emb.random_invertible(5, seed=2)
    assert float(torch.linalg.cond(A.double())) == pytest.approx(9.0, rel=1e-3)  # stretch 3: from 1/3 to 3
    changed = emb.transform_tiny_lm(model, A)
    with torch.no_grad():
        assert_close(changed(X), model(X), atol=1e-5, rtol=1e-5)
    assert_close(changed.embed.weight, model.embed.weight @ A)
    before, after = emb.similarity_matrix(model.embed.weight.detach()), emb.similarity_matrix(changed.embed.weight.detach())
    assert (after - before).abs().max() > 0.1  # the angles moved
    R = emb.random_rotation(5, seed=1)  # a rotation is the special case that keeps them
    assert_close(emb.transform_tiny_lm(model, R).hidden.weight, emb.rotate_tiny_lm(model, R).hidden.weight,
                 atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="invertible"):
        emb.transform_tiny_lm(model, torch.zeros(5, 5))
    with pytest.raises(ValueError, match="5 × 5"):
        emb.transform_tiny_lm(model, torch.eye(4))


def test_sgd_turns_with_a_rotation_and_adam_does_not():
    from knobs import data
    from knobs.chapters import ch04
    split = data.farm_split()
    X_train, y_train, X_val = split[1], split[2], split[3]
    model = models.make_tiny_lm(len(split.vocab), embed_dim=8, hidden=32, seed=0)
    rotated = emb.rotate_tiny_lm(model, emb.random_rotation(8, seed=0))
    apart = ch04.train_on_from_both(model, rotated, X_train, y_train, X_val, steps=30)
    assert apart["sgd"] < 1e-4 and apart["adam"] > 0.1
