"""load_image: every input form becomes RGB uint8, and bad input raises a clear ImageReadError."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from emolib.errors import ImageReadError
from emolib.faces import load_image, to_grey


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)


def test_rgb_array_comes_back_unchanged_without_copy(rgb):
    out = load_image(rgb)
    assert out is rgb


def test_grey_array_becomes_three_equal_channels(rgb):
    grey = rgb[..., 0]
    out = load_image(grey)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert (out == grey[..., None]).all()


def test_single_channel_and_grey_alpha_arrays(rgb):
    grey = rgb[..., 0]
    assert (load_image(grey[..., None]) == load_image(grey)).all()
    with_alpha = np.stack([grey, np.zeros_like(grey)], axis=2)
    assert (load_image(with_alpha) == load_image(grey)).all()


def test_rgba_array_drops_alpha(rgb):
    rgba = np.concatenate([rgb, np.full((30, 40, 1), 7, np.uint8)], axis=2)
    assert (load_image(rgba) == rgb).all()


def test_16bit_array_scales_to_8bit():
    arr = np.array([[0, 257, 65535], [32896, 514, 65278]], dtype=np.uint16)
    assert load_image(arr)[..., 0].tolist() == [[0, 1, 255], [128, 2, 254]]


def test_float_array_in_unit_range_scales_to_255():
    arr = np.array([[0.0, 0.5, 1.0]])
    assert load_image(arr)[0, :, 0].tolist() == [0, 128, 255]


def test_png_file_in_each_mode_loads_as_rgb(tmp_path, rgb):
    grey16 = (rgb[..., 0].astype(np.uint16) * 257)
    cases = {"rgb.png": Image.fromarray(rgb), "grey.png": Image.fromarray(rgb[..., 0]),
             "rgba.png": Image.fromarray(np.dstack([rgb, np.full((30, 40), 9, np.uint8)])),
             "grey16.png": Image.fromarray(grey16), "palette.png": Image.fromarray(rgb).quantize(16)}
    for name, im in cases.items():
        im.save(tmp_path / name)
        out = load_image(tmp_path / name)
        assert out.shape == (30, 40, 3) and out.dtype == np.uint8, name
    assert (load_image(tmp_path / "grey16.png")[..., 0] == rgb[..., 0]).all()
    assert (load_image(str(tmp_path / "rgba.png")) == rgb).all()


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :10] = 255                       # a white band on the left of a wide image
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6                        # "rotate 90 CW to display"
    im.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "rotated.jpg")
    assert out.shape == (40, 20, 3)         # displayed tall
    assert out[:10].mean() > 200 and out[-10:].mean() < 50   # band now at the top
    assert load_image(Image.open(tmp_path / "rotated.jpg")).shape == (40, 20, 3)


def test_encoded_bytes_and_pil_images_load(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    assert (load_image(buf.getvalue()) == rgb).all()
    assert (load_image(Image.fromarray(rgb)) == rgb).all()


def test_to_grey_returns_2d_uint8(rgb):
    g = to_grey(rgb)
    assert g.shape == (30, 40) and g.dtype == np.uint8


# --- bad input -----------------------------------------------------------------------------------

def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(ImageReadError, match="nope.png: expected an existing image file"):
        load_image(tmp_path / "nope.png")


def test_corrupt_file_names_the_path(tmp_path):
    bad = tmp_path / "corrupt.jpg"
    bad.write_bytes(b"this is not a JPEG at all" * 10)
    with pytest.raises(ImageReadError, match="corrupt.jpg: expected an image file"):
        load_image(bad)


def test_truncated_file_is_reported(tmp_path, rgb):
    buf = io.BytesIO()
    Image.fromarray(np.tile(rgb, (8, 8, 1))).save(buf, format="PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageReadError, match="cut.png: expected a complete, decodable image"):
        load_image(cut)


def test_empty_file_is_reported(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="got an empty file"):
        load_image(tmp_path / "empty.png")


def test_empty_array_is_rejected():
    with pytest.raises(ImageReadError, match=r"got an empty array of shape \(0, 5\)"):
        load_image(np.zeros((0, 5), np.uint8))


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.complex64, object])
def test_wrong_dtype_is_rejected(dtype):
    with pytest.raises(ImageReadError, match="dtype"):
        load_image(np.zeros((10, 10), dtype=dtype))


def test_float_out_of_range_is_rejected():
    with pytest.raises(ImageReadError, match=r"float pixel values in \[0, 1\]"):
        load_image(np.full((4, 4), 200.0))


@pytest.mark.parametrize("shape", [(5,), (4, 4, 5), (2, 4, 4, 3)])
def test_wrong_shape_is_rejected(shape):
    with pytest.raises(ImageReadError, match="shape"):
        load_image(np.zeros(shape, np.uint8))


def test_huge_array_is_refused_without_allocating():
    huge = np.broadcast_to(np.zeros((1, 1), np.uint8), (60_000, 60_000))   # no memory behind it
    with pytest.raises(ImageReadError, match="at most 50,000,000 pixels"):
        load_image(huge)


def _png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


def test_huge_file_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(100_000, 100_000))      # claims 10 gigapixels
    with pytest.raises(ImageReadError, match=r"huge.png: expected at most 50,000,000 pixels.*10000000000"):
        load_image(path)
    path.write_bytes(_png_header_only(10_000, 6_000))          # under PIL's own bomb limit
    with pytest.raises(ImageReadError, match=r"huge.png: expected at most .* got 10000 x 6000"):
        load_image(path)


def test_pixel_limit_is_adjustable(rgb):
    with pytest.raises(ImageReadError, match=r"at most 100 pixels \(the max_pixels limit; --max-pixels"):
        load_image(rgb, max_pixels=100)


def test_unsupported_type_is_rejected():
    with pytest.raises(ImageReadError, match="a path, bytes, a PIL image or a numpy array"):
        load_image([[1, 2], [3, 4]])


# --- float and 16-bit files, and the formats a tester tries next ----------------------------------

def test_float32_tiff_in_unit_range_scales_by_255(tmp_path, rgb):
    grey = rgb[..., 0].astype(np.float32) / 255          # Pillow writes it as a mode-F TIFF
    Image.fromarray(grey).save(tmp_path / "unit.tif")
    assert (load_image(tmp_path / "unit.tif")[..., 0] == rgb[..., 0]).all()


def test_float32_rgb_tiff_is_read_with_tifffile(tmp_path, rgb):
    import tifffile

    tifffile.imwrite(tmp_path / "rgb.tif", rgb.astype(np.float32) / 255)   # Pillow cannot open it
    assert (load_image(tmp_path / "rgb.tif") == rgb).all()


def test_float_tiff_with_0_to_255_values_is_taken_as_is(tmp_path, rgb):
    Image.fromarray(rgb[..., 0].astype(np.float32)).save(tmp_path / "bytes.tif")
    assert (load_image(tmp_path / "bytes.tif")[..., 0] == rgb[..., 0]).all()


@pytest.mark.parametrize("low, high", [(-1.0, 0.5), (0.0, 300.0)])
def test_float_tiff_outside_0_255_is_refused_with_its_range(tmp_path, low, high):
    Image.fromarray(np.linspace(low, high, 16, dtype=np.float32).reshape(4, 4)).save(tmp_path / "f.tif")
    with pytest.raises(ImageReadError, match=rf"f.tif: expected float pixel values in \[0, 1\].*"
                                             rf"got values in {low:g}..{high:g}"):
        load_image(tmp_path / "f.tif")


def test_16bit_tiff_scales_by_257(tmp_path, rgb):
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "grey16.tif")
    assert (load_image(tmp_path / "grey16.tif")[..., 0] == rgb[..., 0]).all()


def test_cmyk_jpeg_loads_as_rgb(tmp_path):
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)  # red
    out = load_image(tmp_path / "cmyk.jpg")
    assert out.shape == (10, 20, 3)
    assert out[..., 0].mean() > 200 and out[..., 1:].mean() < 60


def test_palette_png_with_transparency_keeps_its_opaque_colours(tmp_path):
    im = Image.new("P", (4, 2))
    im.putpalette([0, 0, 0, 200, 30, 40])
    im.putdata([0, 1, 1, 1, 0, 1, 1, 1])
    im.info["transparency"] = 0
    im.save(tmp_path / "pal.png", transparency=0)
    out = load_image(tmp_path / "pal.png")
    assert out.shape == (2, 4, 3) and out[0, 1].tolist() == [200, 30, 40]


def test_one_pixel_image_loads(tmp_path):
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "dot.png")
    assert load_image(tmp_path / "dot.png").tolist() == [[[1, 2, 3]]]


def test_directory_is_reported_as_a_directory(tmp_path):
    with pytest.raises(ImageReadError, match=rf"{tmp_path.name}: expected an existing image file, got a directory"):
        load_image(tmp_path)


def test_unreadable_file_names_the_file_and_the_reason(tmp_path, rgb, monkeypatch):
    import emolib.faces.image as image_module

    Image.fromarray(rgb).save(tmp_path / "locked.png")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(image_module, "open", refuse, raising=False)   # root ignores chmod 000
    with pytest.raises(ImageReadError, match="locked.png: expected a readable image file, got "
                                             "PermissionError: Permission denied"):
        load_image(tmp_path / "locked.png")


def test_non_utf8_file_name_loads_and_is_named_in_errors(tmp_path, rgb):
    import os

    name = os.fsdecode(b"photo-\xff.png")                  # not UTF-8: a surrogate escape
    Image.fromarray(rgb).save(tmp_path / name, format="PNG")
    assert (load_image(tmp_path / name) == rgb).all()
    (tmp_path / name).write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match="photo-"):
        load_image(tmp_path / name)
