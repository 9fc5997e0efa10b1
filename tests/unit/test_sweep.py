"""knobs.sweep: chapter 7's nested data sizes and the capacity sweep's bookkeeping."""
import pytest

from knobs import sweep


@pytest.fixture(scope="module")
def small_data():
    return sweep.make_scale_data(context=4, farms=(1 / 16, 1 / 4, 1))


def test_data_is_nested_and_validation_is_held_out(small_data):
    d = small_data
    assert list(d.sizes.values()) == sorted(d.sizes.values())
    assert d.sizes["1 farm"] == d.farm_pairs
    assert len(d.y) > d.sizes["1 farm"] and len(d.y_val) > 1000
    assert sweep.farm_label(1 / 16) == "1/16 farm" and sweep.farm_label(8) == "8 farms"


@pytest.mark.parametrize("call, message", [
    (lambda: sweep.make_scale_data(farms=(100,)), "farms must be between"),
    (lambda: sweep.make_scale_data(val_sentences=0), "val_sentences"),
])
def test_bad_input_gets_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
