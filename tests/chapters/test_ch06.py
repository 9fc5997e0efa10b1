"""Chapter 6's lab (live face and twin grid), exercises, quiz and built page."""
import json
import re

import pytest

from conftest import twin_frame
from knobs import train
from knobs.chapters import ch06
from knobs.exercises import check, quiz


@pytest.fixture(scope="module")
def lab():
    return ch06.quantization_lab()


def test_twin_stays_within_the_frame_budget(lab):
    settings = 1
    for control in lab.controls:
        settings *= len(control.twin)
    assert settings * lab.twin_frames <= 90  # ~7 KB a frame: the twin ~0.6 MB, the page under 2 MB


def test_step_zero_is_post_training_quantization_and_training_lowers_the_loss(lab, farm):
    from knobs import quantize as Q

    vocab, X, y, X_val, y_val = farm
    lab.reset({"bits": 2, "granularity": "tensor"})
    start = lab.snapshot.metrics["val_loss"]
    ptq = train.evaluate(Q.quantize_model(train.trained_tiny_lm(), 2, granularity="tensor"), X_val, y_val)
    assert start == pytest.approx(ptq, abs=1e-5)
    assert len(lab.snapshot.info["grid"]) == 3  # 2-bit symmetric: -s, 0, +s
    for _ in range(25):
        lab.advance(draw=False)
    assert lab.snapshot.metrics["val_loss"] < start - 0.5
    assert "3 distinct values" in lab.describe()


def test_more_bits_and_finer_scales_mean_less_error(lab):
    curves = ch06.error_curves("symmetric")
    for g, errors in curves.items():
        assert all(a > b for a, b in zip(errors, errors[1:])), g
    assert all(curves["tensor"][i] >= curves["channel"][i] >= curves["group"][i] * 0.999 for i in range(len(ch06.BITS)))


def test_live_knobs_restart_the_run_and_bad_values_give_a_message(lab):
    live = lab.live()
    live.controls["bits"].value = 8
    assert live.lab.values["bits"] == 8 and live.lab.snapshot.step == 0
    live.controls["scheme"].value = "affine"
    assert live.lab.values["scheme"] == "affine" and "8-bit" in live.lab.describe()
    with pytest.raises(ValueError, match="between 2 and 8"):
        lab.reset({"bits": 1})


def test_exercises_accept_right_answers_and_hint_on_common_mistakes():
    assert check("ch06.memory", 13e9 * (4 + 16 / 128) / 8).ok
    forgot_scales = check("ch06.memory", 13e9 * 4 / 8)
    assert not forgot_scales.ok and "scale" in forgot_scales.message
    assert check("ch06.codes", {"scale": 0.2, "codes": [3, -2, 0, -7, 5]}).ok
    assert "-7 to 7" in check("ch06.codes", {"scale": 1.4 / 8, "codes": [4, -2, 0, -8, 5]}).message
    assert "round" in check("ch06.codes", {"scale": 0.2, "codes": [3, -1, 0, -7, 4]}).message
    assert not check("ch06.clip", 1.0).ok and not check("ch06.clip", 0.1).ok
    assert "could not be checked" in check("ch06.clip", 2).message
    for exercise_id, answer in (("ch06.memory", 6e9), ("ch06.clip", 0.3)):
        assert "6703125000" not in check(exercise_id, answer).message  # hints never give the answer


def test_quiz_has_questions_with_one_marked_answer_each():
    questions = quiz.load_questions("ch06")
    assert 3 <= len(questions) <= 5
    for q in questions:
        assert sum(bool(a.get("correct")) for a in q["answers"]) == 1, q["question"]


@pytest.mark.html
def test_built_page_has_the_twin_figures_alt_text_and_no_errors(built_html):
    page = built_html / "notebooks" / "06_quantization.html"
    lab_frames = ch06.quantization_lab().twin_frames
    html = page.read_text()
    assert html.count('class="knobs-twin"') == 1 and "Traceback" not in html
    data = json.loads(re.search(r'class="knobs-twin-data">(.*?)</script>', html, re.S).group(1))
    assert len(data["frames"]) == 12 and all(len(f) == lab_frames for f in data["frames"].values())
    assert all(frame["text"] and all(frame["alt"]) for f in data["frames"].values() for frame in f)
    assert len(re.findall(r'class="knobs-figure"', html)) >= 4
    assert all(re.search(r'alt="[^"]{20,}"', img) for img in re.findall(r'<img[^>]*knobs-figure[^>]*>', html))
    assert page.stat().st_size <= 2 * 1024 ** 2


@pytest.mark.html
@pytest.mark.browser
def test_twin_knobs_change_the_frame_in_a_real_browser(built_html, chromium):
    page = chromium.new_page()  # the suite's one Playwright session (tests/conftest.py)
    try:
        page.goto((built_html / "notebooks" / "06_quantization.html").as_uri())
        twin = page.locator(".knobs-twin")
        assert "bits per weight 2, one scale per tensor" in twin_frame(twin)[1]
        twin.locator("input[type=range]").first.focus()
        page.keyboard.press("ArrowRight")  # keyboard operable: 2 -> 3 bits
        assert "bits per weight 3" in twin_frame(twin)[1]
        twin.locator("select").first.select_option("channel")
        alt = twin_frame(twin)[1]
        assert "one scale per channel" in alt and "Step 0 of" in alt
    finally:
        page.close()


def _outlier_weights():
    import torch
    W = train.trained_tiny_lm().hidden.weight.detach().clone()
    i, j = divmod(int(W.abs().argmax()), W.shape[1])
    W[i, j] *= 10 * W.abs().max() / W[i, j].abs()  # the chapter's outlier: ten times the largest weight
    ordinary = torch.ones_like(W, dtype=torch.bool)
    ordinary[i, j] = False
    return W, ordinary


def test_outlier_prose_follows_which_ordinary_weights_really_round_to_zero():
    from knobs import quantize as Q
    W, ordinary = _outlier_weights()
    numbers = ch06.outlier_numbers(W, ordinary)
    step = float(Q.quantize_tensor(W, 4).scale)
    assert step == pytest.approx(float(W.abs().max()) / 7)  # the restricted symmetric range: max|w| on code 7
    codes = Q.quantize_tensor(W, 4).codes.reshape(W.shape)[ordinary]
    big = W[ordinary].abs() >= step / 2  # a weight rounds to zero only below half a step
    assert bool(((codes != 0) == big).all())
    n_nonzero = int((codes != 0).sum())
    if n_nonzero:
        assert "every" not in numbers["outlier_rounding"] and f"{n_nonzero:,} largest" in numbers["outlier_rounding"]
    assert numbers["ordinary_levels"] == str(len(torch_unique(codes)))
    assert "every one" in ch06.outlier_verdict(511, 0, [0])
    assert "480 of the 511" in ch06.outlier_verdict(511, 31, [-1, 0, 1])


def torch_unique(codes):
    return sorted(set(codes.tolist()))


def test_integer_formats_are_twos_complement_in_the_table_and_the_figure():
    import matplotlib.pyplot as plt
    from knobs import numformats
    int8 = numformats.number_format("int8")
    assert (int8.sign_bits, int8.mantissa_bits) == (0, 0)  # no sign-and-magnitude fields
    assert numformats.bit_fields(-3, "int8") == {"twos_complement": "11111101"}
    fig, ax = plt.subplots()
    ch06.draw_formats(ax)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "two's complement" in labels and "magnitude" not in labels
    plt.close(fig)


def test_speed_prose_follows_the_measurement():
    assert ch06.speed_verdict(2.0) == "2.0× faster than fp32" and ch06.speed_verdict(0.5) == "2.0× slower than fp32"
    assert "pay off even here" in ch06.tiny_speed_reason(2.9)
    assert "pay off" not in ch06.tiny_speed_reason(0.4) and "same order" in ch06.tiny_speed_reason(0.4)


def test_checkers_accept_numpy_and_tensor_forms_of_a_right_answer():
    import numpy as np
    import torch
    from knobs.exercises import ch06 as exercises
    W = train.trained_tiny_lm().hidden.weight.detach()
    errors = exercises.clip_errors(W)
    best = min(errors, key=errors.get)
    for form in (float, np.float64, np.float32, torch.tensor):
        assert check("ch06.memory", form(13e9 * (4 + 16 / 128) / 8)).ok
        assert check("ch06.clip", form(best)).ok
    assert check("ch06.codes", {"scale": np.float32(0.2), "codes": np.array([3, -2, 0, -7, 5])}).ok
    assert check("ch06.codes", {"scale": torch.tensor(0.2), "codes": torch.tensor([3, -2, 0, -7, 5])}).ok


def test_exercise_3_clips_symmetrically_as_its_text_says():
    import torch
    from knobs import quantize as Q
    assert Q.quant_range(3, "symmetric") == (-3, 3)  # "the restricted symmetric codes -3...3"
    W = train.trained_tiny_lm().hidden.weight.detach()
    c = 0.5
    W_hat = Q.fake_quantize(W, 3, clip=c)
    edge = c * float(W.abs().max())
    assert float(W_hat.max()) == pytest.approx(edge) and float(W_hat.min()) == pytest.approx(-edge)


def test_qat_is_compared_with_the_float_model_trained_as_long():
    # the review's numbers: PTQ 1.05, control quantized 1.09, QAT 0.766, float after the same steps 0.735, before 0.777
    text = ch06.qat_verdict(1.05, 1.09, 0.766, 0.735, 0.777, steps=200)
    assert "same 200 steps reaches 0.73 (0.78 before them)" in text and "cost 0.03 in loss" in text
    assert "below" not in text and "QAT’s" in text
    assert "even ended 0.02 below" in ch06.qat_verdict(1.05, 1.09, 0.75, 0.77, 0.78, steps=200)
    assert "extra training, not QAT" in ch06.qat_verdict(1.05, 0.85, 0.90, 0.78, 0.80, steps=200)
    assert "did not lower" in ch06.qat_verdict(1.05, 1.09, 1.10, 0.78, 0.80, steps=200)
    assert ch06.qat_summary(1.05, 0.766, 0.735) == "brought it to within 0.03 of the equally trained float model"
    assert ch06.qat_summary(1.05, 1.10, 0.735) == "did not repair it"


def test_the_qat_run_itself_ends_above_the_equally_trained_float_model():
    """The chapter's run, not made-up numbers: the control's float loss is the reference, and it is lower than before."""
    import copy
    from knobs import data, quantize as Q, train
    corpus = data.load_corpus("farm")
    X, y = data.make_dataset(corpus, context=2)
    X_train, y_train, X_val, y_val = data.split_dataset(X, y, val_fraction=0.2, seed=0)
    model = train.trained_tiny_lm()
    before = train.evaluate(model, X_val, y_val)
    control = copy.deepcopy(model)
    for _ in train.train_lm(control, X_train, y_train, steps=200, lr=ch06.QAT_LR, every=200, seed=1):
        pass
    after = train.evaluate(control, X_val, y_val)
    assert after < before - 0.02  # not converged: the extra steps alone lower the float loss


def test_speed_verdicts_say_when_a_difference_is_noise():
    assert "within this measurement’s noise" in ch06.speed_verdict(1.3, (0.9, 1.6))
    assert ch06.speed_verdict(4.5, (3.9, 5.2)) == "4.5× faster than fp32 (middle half of the rounds: 3.9× to 5.2×)"
    assert ch06.speed_verdict(0.5, (0.4, 0.6)).startswith("2.0× slower than fp32 (middle half of the rounds: 1.7× to 2.5×")
    assert "pay off" not in ch06.tiny_speed_reason(1.3, (0.9, 1.6))


def test_the_cpu_line_names_the_bf16_and_int8_instructions(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16 avx512_vnni amx_int8\n")
    flags = ch06.cpu_flags(str(info))
    text = ch06.format_support(flags)
    assert "bf16 instructions (avx512_bf16, amx_bf16)" in text and "int8 instructions (avx512_vnni, amx_int8)" in text
    assert ch06.format_support(["fpu", "avx2"]) == "this machine's CPU lists no bf16 instructions and no int8 instructions"
    assert ch06.cpu_flags(str(tmp_path / "missing")) is None and "does not say" in ch06.format_support(None)


def test_fp16_overflows_at_65520():
    import numpy as np
    import torch
    fp16_max = float(torch.finfo(torch.float16).max)
    overflow = fp16_max + float(np.float16(fp16_max) - np.nextafter(np.float16(fp16_max), np.float16(0))) / 2
    assert (fp16_max, overflow) == (65504.0, 65520.0)
    assert torch.tensor([overflow - 1, overflow]).half().tolist() == [65504.0, float("inf")]


def test_symmetric_4_bit_has_15_codes_and_affine_16():
    from knobs import quantize as Q
    assert [hi - lo + 1 for lo, hi in (Q.quant_range(4, s) for s in ("symmetric", "affine"))] == [15, 16]
