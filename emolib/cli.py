"""The command line: ``python -m emolib predict|serve|about`` (also installed as ``emolib``).

    python -m emolib predict photo.jpg [more.jpg ...] [--json] [--model PATH] [--detector haar|hog|mtcnn]
                                       [--min-face PX] [--min-confidence S] [--whole-image]
                                       [--group-model PIPELINE.joblib]
    python -m emolib serve [--host 127.0.0.1] [--port 8000]
    python -m emolib about            # the default model's provenance (also: --about)
    python -m emolib --version

Exit codes: 0 every image was analysed (a photo without a face counts: it is reported as "no face
found", with no emotion unless --whole-image asks to classify the whole image); 1 at least one
image could not be read, or the model could not be loaded; 2 the command line itself is wrong
(an unknown option, or a value out of range: the message names the option).

With ``--json`` every image gets exactly one JSON line on stdout, also when it fails
(``{"image": NAME, "error": MESSAGE}``); file names that are not valid UTF-8 are shown with
``\\xNN`` escapes.
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import os
import sys
from pathlib import Path

from emolib import __version__
from emolib.config import quiet_tensorflow

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DETECTORS = ("haar", "hog", "mtcnn")
DEFAULT_DETECTOR = "mtcnn"   # emolib.serve.analysis.DEFAULT_DETECTOR (not imported: keeps --help fast)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _default_model_line() -> str:
    """Which model ``predict`` uses by default, without loading it."""
    from emolib.models import pretrained

    if pretrained.DEFAULT_MODEL_PATH.is_file():
        return f"default model: {pretrained.DEFAULT_MODEL_PATH}"
    return f"default model: {pretrained.FER_PACKAGE_PROVENANCE['name']} (FER2013, MIT)"


def _number(convert, ok, expected: str):
    """An argparse ``type=``: parse with ``convert``, then require ``ok(value)``; errors say what
    was expected (argparse adds the option's name)."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_port = _number(int, lambda v: 1 <= v <= 65535, "a port number 1-65535")
_positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
_positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a positive finite number")
_finite_float = _number(float, math.isfinite, "a finite number")


def _printable(name) -> str:
    """A file name safe to print and to put in JSON: bytes that are not UTF-8 become \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _detection_options(parser) -> None:
    from emolib.serve.analysis import MAX_DETECT_PIXELS, MIN_CONFIDENCE, MIN_FACE

    parser.add_argument("--min-face", type=_positive_int, default=MIN_FACE, metavar="PX",
                        help=f"smallest face side searched and reported, in pixels of the photo "
                             f"(default: {MIN_FACE}). Faces are detected on the photo scaled by "
                             f"min(1, 40/PX), shrunk further only to stay under --max-detect-pixels; "
                             f"each face is then cropped from the full-resolution photo")
    parser.add_argument("--max-detect-pixels", type=_positive_int, default=MAX_DETECT_PIXELS,
                        metavar="N", help=f"largest image the detector sees (default: "
                                          f"{MAX_DETECT_PIXELS:,}); larger photos are shrunk for "
                                          f"detection, so their smallest findable face grows")
    parser.add_argument("--min-confidence", type=_finite_float, default=None, metavar="S",
                        help="drop detections scoring below S (default per detector: "
                             + ", ".join(f"{k} {v:g}" for k, v in MIN_CONFIDENCE.items()) + ")")
    parser.add_argument("--whole-image", action="store_true",
                        help="when no face is found, classify the whole image as one face (off by "
                             "default: a photo without a face is reported as 'no face found', "
                             "with no emotion)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emolib", description="Facial emotion recognition: each face's emotion and the "
                                   "group's mood in a photo, offline.")
    parser.add_argument("--version", action="version",
                        version=f"emolib {__version__}; {_default_model_line()}")
    parser.add_argument("--about", action="store_true",
                        help="show the default model's provenance (data, accuracy, licence)")
    sub = parser.add_subparsers(dest="command", metavar="{predict,serve,about}")

    p = sub.add_parser("predict", help="emotions of the faces in one or more photos")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, ...)")
    p.add_argument("--json", action="store_true", help="one JSON object per image, one per line")
    p.add_argument("--model", metavar="PATH", help="a .keras or .hdf5 face-emotion model, 'fer' "
                                                    "for the fer package's, or 'compact' for the fast "
                                                    "single CNN (default: the project's default model)")
    p.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help=f"face detector (default: {DEFAULT_DETECTOR}, the best recall and precision "
                        "on real photos; haar is the fastest)")
    p.add_argument("--max-pixels", type=_positive_int, default=None, metavar="N",
                   help="refuse images with more pixels than this (default: 50,000,000)")
    _detection_options(p)
    p.add_argument("--group-model", metavar="PATH",
                   help="a trained emolib.group pipeline saved with joblib.dump; replaces the "
                        "averaging rule for the group label (load only files you trust)")

    s = sub.add_parser("serve", help="the web demo (upload page and POST /api/predict)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    s.add_argument("--port", type=_port, default=8000, help="port, 1-65535 (default: 8000)")
    s.add_argument("--model", metavar="PATH", help="a .keras or .hdf5 face-emotion model, 'fer' or 'compact'")
    s.add_argument("--detector", choices=DETECTORS, default=DEFAULT_DETECTOR,
                   help=f"face detector (default: {DEFAULT_DETECTOR})")
    s.add_argument("--max-upload-mb", type=_positive_float, default=10.0, metavar="MB",
                   help="largest upload accepted (default: 10)")
    s.add_argument("--max-pixels", type=_positive_int, default=25_000_000, metavar="N",
                   help="largest image accepted, in pixels (default: 25,000,000)")
    _detection_options(s)

    a = sub.add_parser("about", help="the model's provenance: data, accuracy, licence")
    a.add_argument("--model", metavar="PATH",
                   help="a .keras or .hdf5 model, 'fer' or 'compact' (default: the default)")
    return parser


def _model_name(model) -> str:
    """The loaded model's name from its provenance (its class name when it has none)."""
    return getattr(model, "provenance", {}).get("name") or type(model).__name__


def _load_model(path):
    """The model at ``path`` (default model when None), reused while its file is unchanged, so
    repeated ``main()`` calls in one Python session (a notebook, the tests) load it once."""
    from emolib.models.pretrained import COMPACT, COMPACT_MODEL_PATH, DEFAULT_MODEL_PATH, FER, fer_model_path

    if path == FER:
        file = fer_model_path()
    elif path == COMPACT:
        file = COMPACT_MODEL_PATH
    elif path is not None:
        file = Path(path)
    else:
        file = DEFAULT_MODEL_PATH if DEFAULT_MODEL_PATH.is_file() else fer_model_path()
    stamp = file.stat().st_mtime_ns if file.is_file() else None
    return _load_model_cached(None if path is None else str(path), str(file), stamp)


@functools.lru_cache(maxsize=4)
def _load_model_cached(path, file, stamp):
    from emolib.models.pretrained import load_default_model

    return load_default_model(path)


def _about(path, out) -> int:
    from emolib.errors import EmolibError

    try:
        model = _load_model(path)
    except EmolibError as exc:
        print(f"emolib: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"emolib {__version__}", file=out)
    print(model.about(), file=out)
    return EXIT_OK


def _predict(args, out, err) -> int:
    quiet_tensorflow()
    from emolib.errors import EmolibError
    from emolib.serve.analysis import analyze_image, format_text, group_model_from_file

    names = [_printable(path) for path in args.images]
    try:
        model = _load_model(args.model)
        _ = model.keras_model                  # fail now, once, on a bad model file
        group_model = (None if args.group_model is None
                       else group_model_from_file(args.group_model, args.detector))
    except EmolibError as exc:
        message = _printable(str(exc))
        print(f"emolib: error: {message}", file=err)
        if args.json:
            for name in names:
                print(json.dumps({"image": name, "error": message}), file=out)
        return EXIT_FAILED
    print(f"emolib: model: {_model_name(model)}"
          + (" (the default; --model compact is the fast single CNN)" if args.model is None else ""), file=err)
    status = EXIT_OK
    for path, name in zip(args.images, names):
        try:
            result = analyze_image(path, model, args.detector, source=name,
                                   max_pixels=args.max_pixels, min_face=args.min_face,
                                   min_confidence=args.min_confidence,
                                   max_detect_pixels=args.max_detect_pixels,
                                   whole_image=args.whole_image, group_model=group_model)
        except Exception as exc:                # unreadable, corrupt, too large, or a bug
            status = EXIT_FAILED
            message = _printable(str(exc)) if isinstance(exc, EmolibError) \
                else f"{name}: {type(exc).__name__}: {_printable(str(exc))}"
            print(f"emolib: error: {message}", file=err)
            if args.json:
                print(json.dumps({"image": name, "error": message}), file=out)
            continue
        if args.json:
            print(json.dumps(result), file=out)
        else:
            print(format_text(result), file=out)
        if not result["faces"]:
            what = ("the whole image was classified instead" if args.whole_image
                    else "no emotion is given (--whole-image classifies the whole image)")
            print(f"emolib: {name}: no face found (faces of at least "
                  f"{result['smallest_face_searched']} px were searched); {what}", file=err)
    return status


def _serve(args, err) -> int:
    quiet_tensorflow()
    from emolib.errors import EmolibError
    from emolib.serve import create_app

    max_upload_bytes = int(args.max_upload_mb * 2**20)
    if max_upload_bytes < 1:
        print(f"emolib serve: error: argument --max-upload-mb: expected at least one byte "
              f"({1 / 2**20:.2g} MB), got {args.max_upload_mb!r}", file=err)
        return EXIT_USAGE
    if args.host not in LOOPBACK:
        print(f"emolib: warning: binding to {args.host} exposes the demo beyond this machine; "
              "it has no authentication", file=err)
    try:
        model = _load_model(args.model)
        app = create_app(model, args.detector, max_upload_bytes=max_upload_bytes,
                         max_pixels=args.max_pixels, min_face=args.min_face,
                         min_confidence=args.min_confidence,
                         max_detect_pixels=args.max_detect_pixels, whole_image=args.whole_image)
    except (EmolibError, ValueError) as exc:
        print(f"emolib: error: {exc}", file=err)
        return EXIT_FAILED
    print(f"emolib: serving on http://{args.host}:{args.port}/ (Ctrl+C stops)", file=err)
    app.run(host=args.host, port=args.port, threaded=True, debug=False, use_reloader=False)
    return EXIT_OK


def main(argv=None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:                   # --help, --version (0) or a usage error (2)
        return int(exc.code or 0)
    if args.about or args.command == "about":
        return _about(getattr(args, "model", None), sys.stdout)
    if args.command == "predict":
        return _predict(args, sys.stdout, sys.stderr)
    if args.command == "serve":
        return _serve(args, sys.stderr)
    parser.print_help(sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
