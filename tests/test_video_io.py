"""Reading real video files written here, and one face crop per frame with the whole-frame fallback."""
import cv2
import numpy as np
import pytest

from emolib.errors import VideoReadError
from emolib.video import clip_faces, clip_info, load_clip_faces, read_frames


def write_clip(path, frames, fps=10):
    """Write RGB uint8 frames as an MJPEG .avi (the codec of the sample clips)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def ramp(n, size=32):
    """Frame i is uniformly grey at level 20 * i, so a read frame tells its index."""
    return [np.full((size, size, 3), 20 * i, np.uint8) for i in range(n)]


def index_of(frames):
    return np.round(frames[:, 4:-4, 4:-4].mean(axis=(1, 2, 3)) / 20).astype(int).tolist()


@pytest.fixture(scope="module")
def ten_frames(tmp_path_factory):
    return write_clip(tmp_path_factory.mktemp("clips") / "ten.avi", ramp(10))


def test_reads_every_frame_as_rgb_uint8(tmp_path, ten_frames):
    frames = read_frames(ten_frames)
    assert frames.shape == (10, 32, 32, 3) and frames.dtype == np.uint8
    assert index_of(frames) == list(range(10))
    red = write_clip(tmp_path / "red.avi", [np.tile(np.array([200, 20, 20], np.uint8), (32, 32, 1))])
    r, g, b = read_frames(red)[0, 16, 16].astype(int)
    assert r > 150 and g < 60 and b < 60                       # RGB order, not OpenCV's BGR


def test_reads_a_one_frame_clip(tmp_path):
    frames = read_frames(write_clip(tmp_path / "one.avi", ramp(1, size=48)))
    assert frames.shape == (1, 48, 48, 3)


def test_samples_every_kth_frame_or_at_a_rate_in_frames_per_second(ten_frames):
    assert index_of(read_frames(ten_frames, step=3)) == [0, 3, 6, 9]
    assert index_of(read_frames(ten_frames, rate=5)) == [0, 2, 4, 6, 8]      # the clip runs at 10 fps
    assert index_of(read_frames(ten_frames, rate=3)) == [0, 4, 7]            # instants 0, 1/3, 2/3 s
    assert index_of(read_frames(ten_frames, rate=100)) == list(range(10))
    assert index_of(read_frames(ten_frames, max_frames=4)) == [0, 3, 6, 9]


def test_clip_info_reads_the_container(ten_frames):
    info = clip_info(ten_frames)
    assert (info.fps, info.n_frames, info.width, info.height) == (10.0, 10, 32, 32)


def test_corrupt_file_gives_a_clear_error(tmp_path):
    bad = tmp_path / "corrupt.avi"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoReadError, match=r"corrupt\.avi: expected a video OpenCV can decode"):
        read_frames(bad)


def test_truncated_empty_and_missing_files_give_clear_errors(tmp_path, ten_frames):
    truncated = tmp_path / "truncated.avi"
    truncated.write_bytes(ten_frames.read_bytes()[:400])
    with pytest.raises(VideoReadError, match="truncated.avi"):
        read_frames(truncated)
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty.avi.*0-byte"):
        read_frames(tmp_path / "empty.avi")
    with pytest.raises(VideoReadError, match="no such file"):
        read_frames(tmp_path / "missing.avi")


@pytest.mark.parametrize("kwargs", [{"rate": 0}, {"step": 0}, {"max_frames": 0}])
def test_bad_sampling_arguments_are_rejected(ten_frames, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        read_frames(ten_frames, **kwargs)


def test_clip_with_no_face_falls_back_to_whole_frames_and_counts_them(tmp_path):
    path = write_clip(tmp_path / "wall.avi", [np.full((64, 96, 3), 120, np.uint8)] * 5)
    faces = clip_faces(read_frames(path), detector="haar", size=32)
    assert faces.n_missing == 5 and not faces.found.any()
    assert faces.crops.shape == (5, 32, 32, 3)
    assert faces.boxes.tolist() == [[0, 0, 96, 64]] * 5


def test_clip_with_a_real_face_is_cropped_around_it(tmp_path):
    from skimage import data

    face = cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)
    path = write_clip(tmp_path / "astronaut.avi", [face, face, np.full_like(face, 90)])
    faces = clip_faces(read_frames(path), detector="haar", size=48)
    assert faces.found.tolist() == [True, True, False] and faces.n_missing == 1
    x, y, w, h = faces.boxes[0]
    assert 70 < x + w / 2 < 140 and 20 < y + h / 2 < 80           # the astronaut's face, upper middle


def test_known_box_centre_crop_and_previous_box_fallback():
    frames = np.zeros((3, 40, 60, 3), np.uint8)
    frames[:, 10:20, 20:30] = 255                                  # a white square "face"
    boxed = clip_faces(frames, detector="box", box=(20, 10, 10, 10), size=10)
    assert boxed.crops.min() == 255 and boxed.n_missing == 0
    centre = clip_faces(frames, detector="centre", centre_fraction=0.5, size=10)
    assert centre.boxes[0].tolist() == [20, 10, 20, 20]
    seen = iter([[(20, 10, 10, 10)], [], []])
    previous = clip_faces(frames, detector=lambda f: next(seen), size=10, fallback="previous")
    assert previous.found.tolist() == [True, False, False] and previous.n_missing == 2
    assert previous.crops.min() == 255                             # the last box found, reused


def test_largest_detection_is_kept():
    frames = np.zeros((1, 50, 50, 3), np.uint8)
    faces = clip_faces(frames, detector=lambda f: [(0, 0, 5, 5), (10, 10, 30, 20)], size=8)
    assert faces.boxes[0].tolist() == [10, 10, 30, 20]


@pytest.mark.parametrize("kwargs, match", [
    ({"detector": "eyes"}, "detector"), ({"detector": "box"}, "box"), ({"size": 4}, "size"),
    ({"fallback": "skip"}, "fallback"), ({"centre_fraction": 0}, "centre_fraction"),
])
def test_bad_face_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        clip_faces(np.zeros((1, 20, 20, 3), np.uint8), **kwargs)


def test_load_clip_faces_reads_many_clips(tmp_path):
    paths = [write_clip(tmp_path / "a.avi", ramp(4)), write_clip(tmp_path / "b.avi", ramp(7))]
    got = load_clip_faces(paths, detector=lambda f: [], size=16, max_frames=5)
    assert got.n_frames.tolist() == [4, 5] and got.n_missing.tolist() == [4, 5]
    assert [c.shape for c in got.crops] == [(4, 16, 16, 3), (5, 16, 16, 3)]
