"""Chapter 1 exercises: counting parameters, weight tying, parameter or hyperparameter."""
from knobs.exercises.checker import as_number, direction_hint, exercise, is_close
from knobs.models import GPT2Config, TinyLMConfig, TinyLM, count_parameters, gpt2_parameter_formula

COUNT_CONFIG = dict(vocab_size=29, context=2, embed_dim=4, hidden=10)


@exercise("ch01.count")
def check_count(answer):
    answer = as_number(answer)  # any numeric form: int, float, NumPy scalar, 0-d tensor
    table = count_parameters(TinyLM(TinyLMConfig(**COUNT_CONFIG)))
    expected, kinds = table.total, table.by_kind()
    if is_close(answer, expected, rel=0):
        return True, "You counted every weight matrix, bias vector and the embedding table."
    c = TinyLMConfig(**COUNT_CONFIG)
    if answer == expected - kinds["bias"]:
        return False, "Close: every Linear layer also has a bias vector, one number per output unit."
    if answer == expected - kinds["embedding"]:
        return False, "Close: the embedding table is parameters too (one vector per vocabulary word)."
    if answer == expected - (c.context - 1) * c.embed_dim * c.hidden:
        return False, "The hidden layer sees all context words at once: its input is context × embed_dim long."
    return False, direction_hint(answer, expected) + " Count layer by layer: rows × columns, plus one bias per output."


@exercise("ch01.untied")
def check_untied(answer):
    answer = as_number(answer)  # any numeric form: int, float, NumPy scalar, 0-d tensor
    c = GPT2Config()
    expected = sum(gpt2_parameter_formula(GPT2Config(tie_word_embeddings=False)).values())
    if is_close(answer, expected, rel=0):
        return True, "Untying adds a whole second vocabulary × width matrix."
    if answer == expected + c.vocab_size:
        return False, "GPT-2's output layer has no bias vector."
    if answer == expected - c.vocab_size * c.n_embd:
        return False, "That is the tied count: untying means the output layer gets its own matrix."
    return False, direction_hint(answer, expected) + " Which matrix does tying share, and what is its shape?"


KINDS = {"learning rate": "hyperparameter", "hidden.weight": "parameter", "hidden width": "hyperparameter",
         "out.bias": "parameter", "number of training steps": "hyperparameter", "embed.weight": "parameter",
         "batch size": "hyperparameter"}


@exercise("ch01.which")
def check_which(answer):
    if not isinstance(answer, dict) or set(answer) != set(KINDS):
        raise ValueError(f"give a dict with exactly these keys: {sorted(KINDS)}")
    wrong = [k for k, v in KINDS.items() if str(answer[k]).strip().lower() != v]
    if not wrong:
        return True, ("Parameters are what training learns from data; hyperparameters are set outside that optimization "
                      "and shape how it trains.")
    return False, (f"{len(wrong)} of {len(KINDS)} are misplaced. Ask of each: does optimizer.step() change it? "
                   "Is it a tensor in model.parameters()?")
