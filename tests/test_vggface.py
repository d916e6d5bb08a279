"""VGGFace on Keras 3: architecture, and the original keras-vggface weight files, tensor for tensor.

The fixtures write files in the exact Keras 2 layout of the rcmalli v2.0 release (``layer_names``
listing every layer, one group per layer, nested where names hold '/', ``weight_names`` ending in
':0', BatchNorm as gamma/beta/moving_mean/moving_variance), from random numbers, at the real
shapes: fc6 is 25,088 x 4,096 because the pretrained top takes 224 px. The layer lists are spelled
out here from keras-vggface's architecture, independently of emolib's builder, and in the order
Keras 2 saved them (``model.layers``: by graph depth, so ``1x1_proj`` comes right after
``1x1_increase``).
"""
import h5py
import numpy as np
import pytest

from emolib.errors import WeightsError
from emolib.models.h5weights import load_keras2_weights, read_keras2_layout
from emolib.models.vggface import MODELS, VGGFace, file_name, keras_name, weights_filename

STAGES = {2: (3, (64, 64, 256)), 3: (4, (128, 128, 512)), 4: (6, (256, 256, 1024)),
          5: (3, (512, 512, 2048))}
BN = ("gamma", "beta", "moving_mean", "moving_variance")


def _conv(name, k, cin, cout, bias=True):
    return (name, [("kernel", (k, k, cin, cout))] + ([("bias", (cout,))] if bias else []))


def _bn(name, c):
    return (name, [(w, (c,)) for w in BN])


def vgg16_layers(include_top):
    """keras-vggface VGG16, layer by layer, with weightless layers as Keras 2 listed them."""
    layers, cin = [("input_1", [])], 3
    for block, (n, f) in enumerate([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)], 1):
        for i in range(1, n + 1):
            layers.append(_conv(f"conv{block}_{i}", 3, cin, f))
            cin = f
        layers.append((f"pool{block}", []))
    if include_top:
        layers += [("flatten", []), ("fc6", [("kernel", (7 * 7 * 512, 4096)), ("bias", (4096,))]),
                   ("fc6/relu", []), ("fc7", [("kernel", (4096, 4096)), ("bias", (4096,))]),
                   ("fc7/relu", []), ("fc8", [("kernel", (4096, 2622)), ("bias", (2622,))]),
                   ("fc8/softmax", [])]
    return layers


def resnet_layers(se, include_top):
    """keras-vggface RESNET50 (or SENET50 when ``se``) in Keras 2's saved order."""
    layers = [("input_1", []), _conv("conv1/7x7_s2", 7, 3, 64, bias=False), _bn("conv1/7x7_s2/bn", 64),
              ("activation_1", []), ("max_pooling2d_1", [])]
    cin = 64
    for s, (blocks, (f1, f2, f3)) in STAGES.items():
        for b in range(1, blocks + 1):
            p = f"conv{s}_{b}"
            layers += [_conv(f"{p}_1x1_reduce", 1, cin, f1, bias=False), _bn(f"{p}_1x1_reduce/bn", f1),
                       _conv(f"{p}_3x3", 3, f1, f2, bias=False), _bn(f"{p}_3x3/bn", f2)]
            increase = [_conv(f"{p}_1x1_increase", 1, f2, f3, bias=False)]
            if se:
                layers += increase + [_bn(f"{p}_1x1_increase/bn", f3),
                                      _conv(f"{p}_1x1_down", 1, f3, f3 // 16),
                                      _conv(f"{p}_1x1_up", 1, f3 // 16, f3)]
                if b == 1:
                    layers += [_conv(f"{p}_1x1_proj", 1, cin, f3, bias=False), _bn(f"{p}_1x1_proj/bn", f3)]
            elif b == 1:
                layers += increase + [_conv(f"{p}_1x1_proj", 1, cin, f3, bias=False),
                                      _bn(f"{p}_1x1_increase/bn", f3), _bn(f"{p}_1x1_proj/bn", f3)]
            else:
                layers += increase + [_bn(f"{p}_1x1_increase/bn", f3)]
            layers += [(f"add_{s}_{b}", []), (f"activation_{s}_{b}", [])]
            cin = f3
    layers.append(("avg_pool", []))
    if include_top:
        layers += [("flatten_1", []), ("classifier", [("kernel", (2048, 8631)), ("bias", (8631,))])]
    return layers


def spec(model, include_top):
    return vgg16_layers(include_top) if model == "vgg16" else resnet_layers(model == "senet50", include_top)


def write_keras2_file(path, layers, *, seed=0, layout="root", rename=None, split_names=False):
    """Write ``layers`` [(name, [(weight, shape)])] the way Keras 2's ``save_weights`` did.

    ``layout="model_weights"`` nests everything under ``model_weights`` as a full-model save does;
    ``rename`` maps original names to the names written (a file whose names differ from the
    model's); ``split_names`` spreads ``layer_names`` over ``layer_names0``/``layer_names1``.
    """
    rename = rename or {}
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        root = f
        if layout == "model_weights":
            f.attrs["keras_version"] = b"2.2.4"
            f.attrs["backend"] = b"tensorflow"
            f.attrs["model_config"] = b'{"class_name": "Model", "config": {}}'
            root = f.create_group("model_weights")
        names = np.array([rename.get(n, n).encode("utf8") for n, _ in layers])
        if split_names:
            half = len(names) // 2
            root.attrs["layer_names0"], root.attrs["layer_names1"] = names[:half], names[half:]
        else:
            root.attrs["layer_names"] = names
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        for name, weights in sorted(layers, key=lambda l: rename.get(l[0], l[0])):
            name = rename.get(name, name)
            g = root.create_group(name)
            weight_names = [f"{name}/{w}:0" for w, _ in weights]
            g.attrs["weight_names"] = (np.array([w.encode("utf8") for w in weight_names]) if weights
                                       else np.asarray([]))
            for wname, (_, shape) in zip(weight_names, weights):
                g.create_dataset(wname, data=rng.random(shape, dtype=np.float32) - np.float32(0.5))
    return path


def assert_reproduced(model, path, layers, rename=None):
    """Every weighted layer of the file sits, bit for bit, in the model layer of the same name."""
    rename = rename or {}
    n = 0
    with h5py.File(path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f
        for name, weights in layers:
            if not weights:
                continue
            fname = rename.get(name, name)
            variables = model.get_layer(keras_name(name)).weights
            assert len(variables) == len(weights), name
            for var, (w, _) in zip(variables, weights):
                expected = root[fname][f"{fname}/{w}:0"][()]
                assert np.array_equal(np.asarray(var), expected), f"{name}/{w}"
                n += 1
    assert n == sum(len(w) for _, w in layers)


# --------------------------------------------------------------------------------------------
# shared, module-scoped: each architecture is built once (zero-initialised: loading overwrites
# every weight) and each release file written once.

@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(model, include_top):
        if (model, include_top) not in cache:
            cache[model, include_top] = VGGFace(model, include_top=include_top, weights=None,
                                                initializer="zeros")
        return cache[model, include_top]
    return get


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder, cache = tmp_path_factory.mktemp("release"), {}

    def get(model, include_top):
        if (model, include_top) not in cache:
            seed = MODELS.index(model) * 2 + include_top
            cache[model, include_top] = write_keras2_file(folder / weights_filename(model, include_top),
                                                          spec(model, include_top), seed=seed)
        return cache[model, include_top]
    return get


# --------------------------------------------------------------------------------------------
# architecture

@pytest.mark.parametrize("model, with_top, without_top", [
    ("vgg16", 145_002_878, 14_714_688), ("resnet50", 41_246_071, 23_561_152),
    ("senet50", 43_777_063, 26_092_144)])
def test_parameter_counts_equal_keras_vggface(models, model, with_top, without_top):
    assert models(model, True).count_params() == with_top
    assert models(model, False).count_params() == without_top


@pytest.mark.parametrize("model", MODELS)
def test_layers_are_those_of_the_release_file_in_keras2_order(models, model):
    """Same names (with '/' restored) and the same order of weighted layers as the saved file."""
    net = models(model, True)
    assert all("/" not in layer.name for layer in net.layers)
    weighted = [file_name(layer.name) for layer in net.layers if layer.weights]
    assert weighted == [name for name, w in spec(model, True) if w]
    assert all(keras_name(file_name(layer.name)) == layer.name for layer in net.layers)


@pytest.fixture(scope="module")
def resnet_any_size():
    import keras

    keras.utils.set_random_seed(0)
    return VGGFace("resnet50", include_top=False, weights=None)


@pytest.mark.parametrize("side", [32, 57, 224, 250])
def test_resnet_avg_pool_works_at_any_input_size(resnet_any_size, side):
    """keras-vggface's 7x7 AveragePooling2D failed below 224; emolib pools globally."""
    x = np.random.default_rng(side).normal(0, 50, (1, side, side, 3)).astype(np.float32)
    out = np.asarray(resnet_any_size(x))
    assert out.shape == (1, 1, 1, 2048) and np.isfinite(out).all()


def test_avg_pool_at_224_equals_the_original_7x7_average(resnet_any_size):
    import keras

    x = np.random.default_rng(1).normal(0, 50, (1, 224, 224, 3)).astype(np.float32)
    fmap_model = keras.Model(resnet_any_size.input, resnet_any_size.get_layer("conv5_3_relu").output)
    fmap = np.asarray(fmap_model(x))
    assert fmap.shape == (1, 7, 7, 2048)
    original = np.asarray(keras.layers.AveragePooling2D((7, 7))(fmap))
    np.testing.assert_allclose(np.asarray(resnet_any_size(x)), original, rtol=1e-5, atol=1e-6)


def test_pooling_options_give_vectors():
    assert VGGFace("vgg16", include_top=False, weights=None, pooling="avg").output_shape == (None, 512)
    assert VGGFace("resnet50", include_top=False, weights=None, pooling="max",
                   input_shape=(32, 32, 3)).output_shape == (None, 2048)
    assert VGGFace("vgg16", include_top=False, weights=None,
                   input_shape=(96, 96, 3)).output_shape == (None, 3, 3, 512)


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="vgg19"), "model"),
    (dict(model="senet50", include_top=False, input_shape=(96, 96, 3)), ">= 197"),
    (dict(model="vgg16", input_shape=(112, 112, 3)), "224"),
    (dict(model="vgg16", include_top=False, input_shape=(64, 64, 1)), "channels"),
    (dict(model="resnet50", classes=7), "8631"),
    (dict(model="vgg16", include_top=False, pooling="mean"), "pooling"),
    (dict(model="vgg16", weights="/no/such/file.h5"), "existing file"),
])
def test_bad_arguments_fail_before_building(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VGGFace(**kwargs)


# --------------------------------------------------------------------------------------------
# all six release files

@pytest.mark.parametrize("model, include_top", [
    ("vgg16", False), ("resnet50", False), ("resnet50", True), ("senet50", False), ("senet50", True)])
def test_release_file_loads_every_tensor_exactly(models, files, model, include_top):
    net, path = models(model, include_top), files(model, include_top)
    report = load_keras2_weights(net, path)
    assert report.mapping == "name" and report.unused == ()
    assert_reproduced(net, path, spec(model, include_top))


@pytest.mark.slow
def test_vgg16_release_file_with_top_loads_every_tensor_exactly(models, files):
    """The 145M-parameter file (580 MB) at its real shapes: the heaviest test, kept lean."""
    net, path = models("vgg16", True), files("vgg16", True)
    report = load_keras2_weights(net, path)
    assert report.parameters == 145_002_878
    assert_reproduced(net, path, spec("vgg16", True))


@pytest.mark.slow
def test_the_pretrained_top_at_another_input_size_fails_on_fc6(files):
    with pytest.raises(WeightsError, match=r"'fc6'.*\(512, 4096\).*\(25088, 4096\)"):
        VGGFace("vgg16", include_top=True, weights=files("vgg16", True), input_shape=(48, 48, 3))


# --------------------------------------------------------------------------------------------
# layouts and mappings

def test_model_weights_layout_with_split_layer_names_loads(tmp_path):
    layers = spec("vgg16", False)
    path = write_keras2_file(tmp_path / "full_save.h5", layers, layout="model_weights", split_names=True)
    assert [l.name for l in read_keras2_layout(path)][:2] == ["conv1_1", "conv1_2"]
    net = VGGFace("vgg16", include_top=False, weights=path, input_shape=(48, 48, 3))
    assert_reproduced(net, path, layers)


def test_a_file_with_other_layer_names_is_mapped_by_layer_order(tmp_path, models):
    layers = spec("senet50", False)
    counter = {}

    def generic(name):  # what Keras 2 calls layers that were never named
        kind = "batch_normalization" if name.endswith("/bn") else "conv2d"
        counter[kind] = counter.get(kind, 0) + 1
        return f"{kind}_{counter[kind]}"

    rename = {n: generic(n) for n, w in layers if w}
    path = write_keras2_file(tmp_path / "generic.h5", layers, rename=rename, seed=7)
    net = models("senet50", False)
    report = load_keras2_weights(net, path)
    assert report.mapping == "order" and report.layers == len(rename)
    assert_reproduced(net, path, layers, rename=rename)
    with pytest.raises(WeightsError, match="conv1/7x7_s2"):
        load_keras2_weights(net, path, mapping="name")


def test_a_with_top_file_fills_a_model_without_top_and_reports_the_rest(models, files):
    net, path = models("resnet50", False), files("resnet50", True)
    report = load_keras2_weights(net, path)
    assert report.mapping == "name" and report.unused == ("classifier",)
    assert_reproduced(net, path, [l for l in spec("resnet50", True) if l[0] != "classifier"])


# --------------------------------------------------------------------------------------------
# clear failures, nothing loaded

def test_a_shape_mismatch_names_the_layer_and_both_shapes_and_loads_nothing(tmp_path, models):
    layers = spec("vgg16", False)
    at = [name for name, _ in layers].index("conv2_1")
    layers[at] = _conv("conv2_1", 3, 64, 96)  # a file made for another architecture
    path = write_keras2_file(tmp_path / "bad.h5", layers)
    net = models("vgg16", False)
    before = [np.asarray(w).copy() for w in net.weights]
    with pytest.raises(WeightsError, match=r"conv2_1.*\(3, 3, 64, 128\).*\(3, 3, 64, 96\)"):
        load_keras2_weights(net, path)
    assert all(np.array_equal(a, np.asarray(b)) for a, b in zip(before, net.weights))


def test_a_truncated_file_raises_weights_error(tmp_path, files):
    data = files("vgg16", False).read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="truncated"):
        VGGFace("vgg16", include_top=False, weights=cut)


def test_a_file_missing_a_layer_group_raises(tmp_path, files, models):
    path = tmp_path / "missing.h5"
    path.write_bytes(files("vgg16", False).read_bytes())
    with h5py.File(path, "a") as f:
        del f["conv5_3"]
    with pytest.raises(WeightsError, match="conv5_3"):
        load_keras2_weights(models("vgg16", False), path)


def test_a_file_missing_a_dataset_raises(tmp_path, files):
    path = tmp_path / "nobias.h5"
    path.write_bytes(files("vgg16", False).read_bytes())
    with h5py.File(path, "a") as f:
        del f["conv3_2"]["conv3_2/bias:0"]
    with pytest.raises(WeightsError, match=r"conv3_2.*bias:0"):
        read_keras2_layout(path)


def test_a_file_without_layer_names_is_not_a_keras2_weight_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(WeightsError, match="layer_names"):
        read_keras2_layout(path)


def test_order_mapping_with_a_different_layer_count_fails(models, files):
    with pytest.raises(WeightsError, match=r"file has 13 weighted layers, model 'vggface_resnet50' has 106"):
        load_keras2_weights(models("resnet50", False), files("vgg16", False), mapping="order")
