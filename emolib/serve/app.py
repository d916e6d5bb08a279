"""The Flask app: an upload page and a JSON API over :func:`emolib.serve.analysis.analyze_image`.

Routes:

- ``GET /``: the upload page. ``POST /`` (multipart field ``file``) renders the photo with its face
  boxes, each face's emotion and the group mood.
- ``POST /api/predict`` (multipart field ``file``): the JSON object of ``emolib predict --json``.
- ``GET /api/health``: ``{"status": "ok", "model": NAME, "detector": NAME}``.

Limits: the request body (``max_upload_bytes``, 10 MB), the decoded size (``max_pixels``,
25 megapixels, checked from the header before decoding) and the image types (JPEG, PNG, BMP, GIF,
WebP, TIFF). Refusals are 4xx JSON ``{"error": MESSAGE, "status": CODE}`` on ``/api``: 400 no
``file`` field or an empty file, 413 too many bytes or pixels, 415 not an image or an unsupported
type, 422 an image that cannot be decoded (corrupt, truncated). Uploads are read into memory and
never written to disk; one photo is analysed at a time.
"""
from __future__ import annotations

import base64
import io
import math
import numbers
import threading

from emolib.errors import ImageReadError

from .analysis import DEFAULT_DETECTOR, MAX_DETECT_PIXELS, MIN_FACE, analyze_image
from .page import EMOTION_COLOURS, PAGE

__all__ = ["create_app", "ALLOWED_FORMATS", "UploadError"]

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "BMP": "image/bmp", "GIF": "image/gif",
                   "WEBP": "image/webp", "TIFF": "image/tiff"}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 25_000_000
DISPLAY_SIDE = 960


class UploadError(Exception):
    """An upload the app refuses: carries the HTTP status and a message for the user."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _in_memory_request_class():
    from flask import Request

    class InMemoryRequest(Request):
        """Keeps uploaded files in memory (the body is capped by MAX_CONTENT_LENGTH), so no
        upload ever touches the disk, not even as a temporary file."""

        def _get_file_stream(self, total_content_length, content_type, filename=None,
                             content_length=None):
            return io.BytesIO()

    return InMemoryRequest


def read_upload(storage, max_pixels: int) -> tuple[bytes, str]:
    """Check an uploaded file (werkzeug ``FileStorage`` or None): its bytes and a display name.

    Raises :class:`UploadError` with the status to answer.
    """
    from PIL import Image, UnidentifiedImageError
    from werkzeug.utils import secure_filename

    if storage is None:
        raise UploadError(400, "expected the image in the multipart form field 'file'")
    name = secure_filename(storage.filename or "") or "upload"
    data = storage.read()
    if not data:
        raise UploadError(400, f"{name}: the uploaded file is empty")
    try:
        with Image.open(io.BytesIO(data)) as im:      # header only
            fmt, width, height = im.format, im.width, im.height
    except UnidentifiedImageError:
        size = _tiff_size(data)               # float RGB TIFFs, which Pillow cannot open
        if size is None:
            raise UploadError(415, f"{name}: not an image; expected one of "
                                   f"{', '.join(sorted(ALLOWED_FORMATS))}") from None
        fmt, (width, height) = "TIFF", size
    except Image.DecompressionBombError as exc:        # PIL's own cap, far above max_pixels
        raise UploadError(413, f"{name}: too many pixels ({exc}); the limit is "
                               f"{max_pixels:,}") from None
    except Exception as exc:                           # broken header
        raise UploadError(422, f"{name}: cannot read the image header ({exc})") from None
    if fmt not in ALLOWED_FORMATS:
        raise UploadError(415, f"{name}: {fmt} images are not accepted; expected one of "
                               f"{', '.join(sorted(ALLOWED_FORMATS))}")
    if width * height > max_pixels:
        raise UploadError(413, f"{name}: {width} x {height} = {width * height:,} pixels; "
                               f"the limit is {max_pixels:,}")
    return data, name


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a TIFF that tifffile can read, else None."""
    if data[:4] not in (b"II*\0", b"MM\0*"):
        return None
    import tifffile

    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            shape = tif.pages[0].shape
    except Exception:                          # not a readable TIFF after all
        return None
    if len(shape) == 3 and shape[0] in (3, 4) and shape[2] not in (3, 4):
        shape = shape[1:]                      # planar: channels first
    return (int(shape[1]), int(shape[0])) if len(shape) >= 2 else None


def _display_image(data: bytes) -> tuple[str, int, int]:
    """A JPEG data URL of the photo, shrunk to DISPLAY_SIDE, and the original width and height."""
    from PIL import Image

    from emolib.faces import load_image

    rgb = load_image(data)
    height, width = rgb.shape[:2]
    im = Image.fromarray(rgb)
    im.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), width, height


def _faces_for_page(result: dict, height: int) -> list[dict]:
    font = max(12, height // 30)
    out = []
    for face in result["faces"]:
        x, y, w, h = face["box"]
        ranked = sorted(face["probabilities"].items(), key=lambda kv: -kv[1])
        out.append({"x": x, "y": y, "w": w, "h": h, "emotion": face["emotion"],
                    "p": face["probabilities"][face["emotion"]],
                    "runner_up": f"{ranked[1][0]} ({ranked[1][1]:.2f})" if len(ranked) > 1 else "",
                    "colour": EMOTION_COLOURS.get(face["emotion"], "#e6194b"),
                    "label_y": y - 4 if y - 4 > font else y + h + font})
    return out


def create_app(model=None, detector: str = DEFAULT_DETECTOR, *,
               max_upload_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS,
               min_face: int = MIN_FACE, min_confidence: float | None = None,
               max_detect_pixels: int = MAX_DETECT_PIXELS, whole_image: bool = False):
    """Build the web demo.

    Args:
        model: an emotion model with ``predict_proba`` and ``classes`` (default:
            :func:`emolib.models.pretrained.load_default_model`, loaded now).
        detector: face detector, ``"haar"``, ``"hog"`` or ``"mtcnn"``.
        max_upload_bytes: largest request body accepted (413 beyond); a whole number >= 1.
        max_pixels: largest image accepted, in pixels (413 beyond; checked before decoding).
        min_face, min_confidence, max_detect_pixels, whole_image: as for
            :func:`emolib.serve.analysis.analyze_image`.

    Raises:
        ValueError: an argument out of range, naming it and what was expected.
    """
    from flask import Flask, jsonify, render_template_string, request
    from werkzeug.exceptions import HTTPException

    from emolib import faces as face_lib

    if detector not in face_lib.METHODS:
        raise ValueError(f"detector={detector!r}: expected one of {face_lib.METHODS}")
    for name, value in (("max_upload_bytes", max_upload_bytes), ("max_pixels", max_pixels),
                        ("min_face", min_face), ("max_detect_pixels", max_detect_pixels)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name}={value!r}: expected a whole number >= 1")
    if min_confidence is not None and (isinstance(min_confidence, bool) or not isinstance(
            min_confidence, numbers.Real) or not math.isfinite(min_confidence)):
        raise ValueError(f"min_confidence={min_confidence!r}: expected a finite number or None")
    options = {"min_face": int(min_face), "min_confidence": min_confidence,
               "max_detect_pixels": int(max_detect_pixels), "whole_image": bool(whole_image)}
    if model is None:
        from emolib.models.pretrained import load_default_model

        model = load_default_model()
    if hasattr(model, "keras_model"):
        _ = model.keras_model        # load the weights now, not during the first request

    app = Flask(__name__)
    app.request_class = _in_memory_request_class()
    app.json.sort_keys = False                 # keep the CLI's key order (FER2013 class order)
    app.config.update(MAX_CONTENT_LENGTH=max_upload_bytes, MAX_FORM_MEMORY_SIZE=max_upload_bytes,
                      EMOLIB_MODEL=model, EMOLIB_DETECTOR=detector, EMOLIB_MAX_PIXELS=max_pixels,
                      EMOLIB_DETECTION=options)
    lock = threading.Lock()
    about = model.about() if hasattr(model, "about") else repr(model)
    limits = (f"JPEG, PNG, BMP, GIF, WebP or TIFF; at most {max_upload_bytes / 2**20:.0f} MB "
              f"and {max_pixels / 1e6:.0f} megapixels")
    accept = ",".join(sorted(set(ALLOWED_FORMATS.values())))

    def analyse(storage) -> tuple[dict, bytes]:
        data, name = read_upload(storage, max_pixels)
        try:
            with lock:
                result = analyze_image(data, model, detector, source=name, max_pixels=max_pixels,
                                       **options)
        except ImageReadError as exc:
            raise UploadError(422, f"{name}: the image cannot be decoded ({exc.got or exc})") from None
        return result, data

    def page(status=200, **context):
        return render_template_string(PAGE, about=about, limits=limits, accept=accept,
                                      **context), status

    @app.get("/")
    def index():
        return page()

    @app.post("/")
    def upload_page():
        try:
            result, data = analyse(request.files.get("file"))
        except UploadError as exc:
            return page(exc.status, error=exc.message)
        image_url, width, height = _display_image(data)
        return page(result=result, faces=_faces_for_page(result, height), image_url=image_url,
                    width=width, height=height, stroke=max(2, width // 200),
                    font=max(12, height // 30))

    @app.post("/api/predict")
    def api_predict():
        try:
            result, _ = analyse(request.files.get("file"))
        except UploadError as exc:
            return jsonify(error=exc.message, status=exc.status), exc.status
        return jsonify(result)

    @app.get("/api/health")
    def api_health():
        name = getattr(model, "provenance", {}).get("name", type(model).__name__)
        return jsonify(status="ok", model=name, detector=detector)

    @app.errorhandler(HTTPException)
    def http_error(exc):
        message = exc.description
        if exc.code == 413:
            message = f"the upload is larger than the limit of {max_upload_bytes:,} bytes"
        if request.path.startswith("/api/"):
            return jsonify(error=message, status=exc.code), exc.code
        if request.path == "/" and exc.code in (400, 413):
            return page(exc.code, error=message)
        return exc

    @app.errorhandler(Exception)
    def unexpected_error(exc):          # still an answer the client can read; logged by Flask
        app.logger.exception("unexpected error")
        if request.path.startswith("/api/"):
            return jsonify(error="internal error while analysing the image", status=500), 500
        return page(500, error="internal error while analysing the image")

    return app
