"""emolib.models.predict: one batched prediction for every model, test-time flip, softmax."""
import numpy as np
import pytest

from emolib.models.predict import softmax

keras = pytest.importorskip("keras")

from emolib.models.compact import compact_cnn  # noqa: E402
from emolib.models.predict import predict_batches, predict_faces  # noqa: E402

TINY = dict(widths=(8, 16), convs=(1, 1), dense_units=16, dropout=0.0, augment=False)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return compact_cnn(3, (16, 16, 1), **TINY)


@pytest.mark.parametrize("compiled", [False, True])
def test_batches_give_the_same_answer_as_one_call(model, compiled):
    x = np.random.default_rng(0).integers(0, 256, (7, 16, 16, 1)).astype(np.float32)
    whole = np.asarray(model(x, training=False))
    np.testing.assert_allclose(predict_batches(model, x, batch_size=3, compiled=compiled), whole,
                               rtol=1e-5, atol=1e-6)


def test_no_rows_give_an_empty_k_column_array(model):
    assert predict_batches(model, np.zeros((0, 16, 16, 1), np.float32)).shape == (0, 3)


def test_dict_inputs_and_several_outputs_come_back_as_a_list():
    a, b = keras.Input((2,), name="a"), keras.Input((3,), name="b")
    two = keras.Model({"a": a, "b": b}, [a * 2, keras.ops.sum(b, axis=1, keepdims=True)])
    inputs = {"a": np.arange(10, dtype=np.float32).reshape(5, 2), "b": np.ones((5, 3), np.float32)}
    doubled, total = predict_batches(two, inputs, batch_size=2)
    np.testing.assert_allclose(doubled, inputs["a"] * 2)
    np.testing.assert_allclose(total, np.full((5, 1), 3.0))


def test_test_time_flip_averages_a_face_and_its_mirror(model):
    x = np.random.default_rng(4).integers(0, 256, (6, 16, 16)).astype(np.uint8)
    plain = predict_faces(model, x)
    mirror = predict_faces(model, x[:, :, ::-1])
    np.testing.assert_allclose(predict_faces(model, x, tta_flip=True), (plain + mirror) / 2, rtol=1e-5)


def test_faces_are_converted_to_the_models_size_and_channels(model):
    rgb = np.random.default_rng(5).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    assert predict_faces(model, rgb).shape == (2, 3)


def test_softmax_rows_sum_to_one_and_large_scores_do_not_overflow():
    p = softmax([[1000.0, 1000.0, 0.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(p[1], softmax([[11.0, 12.0, 13.0]])[0])


def test_softmax_refuses_a_vector():
    with pytest.raises(ValueError, match="N x K"):
        softmax([1.0, 2.0])


def test_a_list_of_inputs_is_batched_input_by_input():
    a, b = keras.Input((2,)), keras.Input((1,))
    added = keras.Model([a, b], a + b)
    x = [np.arange(10, dtype=np.float32).reshape(5, 2), np.ones((5, 1), np.float32)]
    np.testing.assert_allclose(predict_batches(added, x, batch_size=2), x[0] + 1)
