"""DescriptorExtractor: any backbone, any layer, RGB/BGR regimes, scikit-learn contract."""
import numpy as np
import pytest

from emolib.errors import ImageReadError
from emolib.features.descriptors import DescriptorExtractor
from emolib.models.vggface import MEANS_BGR, preprocess_input


def _colour_images(n=6, size=40, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_net():
    """A small Keras model standing in for a backbone (fast to build and run)."""
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    x = keras.layers.MaxPooling2D(4, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(5, name="fc")(x)
    return keras.Model(inp, out, name="tiny")


@pytest.fixture(scope="module")
def vgg16_fc7():
    return DescriptorExtractor("vgg16", layer="fc7", input_size=48, weights=None).fit()


def test_vgg16_fc7_gives_4096_numbers_per_face(vgg16_fc7):
    faces = _colour_images(3, 48)
    out = vgg16_fc7.transform(faces)
    assert out.shape == (3, 4096) and out.dtype == np.float32
    assert np.isfinite(out).all() and out.std() > 0
    assert vgg16_fc7.n_features_out_ == 4096


def test_random_init_is_deterministic_given_random_state():
    faces = _colour_images(2, 48)
    first, again, other = (DescriptorExtractor("vgg16", layer="pool5", input_size=48, weights=None,
                                               random_state=seed).fit() for seed in (0, 0, 1))
    assert first.transform(faces).shape == (2, 512)
    np.testing.assert_array_equal(first.transform(faces), again.transform(faces))
    assert not np.allclose(first.transform(faces), other.transform(faces))


def test_bgr_order_equals_the_network_on_preprocess_input(tiny_net):
    faces = _colour_images(4, 32)
    ext = DescriptorExtractor(tiny_net, layer="fc", order="bgr", preprocessing=1).fit()
    expected = np.asarray(tiny_net(preprocess_input(faces, 1)))
    np.testing.assert_allclose(ext.transform(faces), expected, rtol=1e-5, atol=1e-5)


def test_rgb_order_keeps_the_channels_and_subtracts_the_same_means(tiny_net):
    faces = _colour_images(4, 32)
    ext = DescriptorExtractor(tiny_net, layer="fc", order="rgb", preprocessing=2).fit()
    expected = np.asarray(tiny_net(faces.astype(np.float32) - np.asarray(MEANS_BGR[2], np.float32)))
    np.testing.assert_allclose(ext.transform(faces), expected, rtol=1e-5, atol=1e-5)
    bgr = DescriptorExtractor(tiny_net, layer="fc", order="bgr", preprocessing=2).fit()
    assert not np.allclose(ext.transform(faces), bgr.transform(faces))


@pytest.mark.parametrize("pooling, dim", [("avg", 4), ("max", 4), ("flatten", 256)])
def test_spatial_layers_are_pooled_into_vectors(tiny_net, pooling, dim):
    faces = _colour_images(3, 32)
    ext = DescriptorExtractor(tiny_net, layer="pool", pooling=pooling, order="rgb",
                              preprocessing=None).fit()
    out = ext.transform(faces)
    assert out.shape == (3, dim) and ext.n_features_out_ == dim
    if pooling == "avg":
        import keras

        sub = keras.Model(tiny_net.input, tiny_net.get_layer("pool").output)
        np.testing.assert_allclose(out, np.asarray(sub(faces.astype(np.float32))).mean(axis=(1, 2)),
                                   rtol=1e-5, atol=1e-5)


def test_resnet50_avg_pool_works_below_224():
    ext = DescriptorExtractor("resnet50", input_size=40, weights=None).fit()
    out = ext.transform(_colour_images(2, 40))
    assert ext.layer_ == "avg_pool" and out.shape == (2, 2048)


def test_keras_vggface_layer_names_with_slash_are_accepted(tiny_net):
    import keras

    inp = keras.Input((32, 32, 3))
    x = keras.layers.Dense(3, name="fc7")(keras.layers.GlobalAveragePooling2D()(inp))
    net = keras.Model(inp, keras.layers.Activation("relu", name="fc7__relu")(x))
    ext = DescriptorExtractor(net, layer="fc7/relu", preprocessing=None).fit()
    assert ext.layer_ == "fc7__relu" and (ext.transform(_colour_images(2, 32)) >= 0).all()


def test_images_of_any_size_and_grey_are_resized_to_the_input(tiny_net):
    ext = DescriptorExtractor(tiny_net, layer="fc").fit()
    mixed = [np.full((48, 48), 100, np.uint8), _colour_images(1, 20)[0], _colour_images(1, 32)[0]]
    out = ext.transform(mixed)
    assert out.shape == (3, 5)


def test_a_bad_image_is_named_in_the_error(tiny_net):
    ext = DescriptorExtractor(tiny_net, layer="fc").fit()
    with pytest.raises(ImageReadError, match=r"faces\[1\].*H x W x 3"):
        ext.transform([_colour_images(1, 32)[0], np.zeros((32, 32, 2), np.uint8)])


def test_unknown_layer_and_bad_arguments_are_rejected(tiny_net):
    with pytest.raises(ValueError, match="'fc9' is not a layer"):
        DescriptorExtractor(tiny_net, layer="fc9").fit()
    with pytest.raises(ValueError, match="order"):
        DescriptorExtractor(tiny_net, order="rbg").fit()
    with pytest.raises(ValueError, match="backbone"):
        DescriptorExtractor("vgg19").fit()


def test_transform_before_fit_raises_not_fitted(tiny_net):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DescriptorExtractor(tiny_net, layer="fc").transform(_colour_images(1, 32))


def test_init_stores_arguments_only_and_composes_in_a_pipeline(tiny_net):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    ext = DescriptorExtractor(tiny_net, layer="fc", order="rgb")
    assert ext.get_params()["order"] == "rgb" and not hasattr(ext, "model_")
    X = _colour_images(12, 32, seed=1)
    y = np.arange(12) % 2
    pipe = make_pipeline(ext, LogisticRegression(max_iter=200)).fit(X, y)
    assert pipe.predict(X).shape == (12,)
