#!/usr/bin/env bash
# Build, run and test Toru. Needs only python3 (3.10+) and access to PyPI.
#
#   ./build.sh                 build dist/toru.pyz for this machine's Python (kept when
#                              nothing it is made of changed; delete it to build it anew)
#   ./build.sh --check         say whether dist/toru.pyz is up to date (exit 0) or why not (exit 1)
#   ./build.sh run [ARGS]      build, then start it on ./data (ARGS go to toru.pyz)
#   ./build.sh test [ARGS]     build, ruff, then the whole test suite on 2 workers (ARGS go to
#                              pytest; -m "not e2e and not slow" is the fast subset for local
#                              work; TORU_TEST_WORKERS=0 runs it in one process)
#   ./build.sh --universal     build one pyz for CPython 3.10-3.14 on x86_64 and aarch64
#   ./build.sh --output FILE   write the pyz somewhere else than dist/toru.pyz
#   ./build.sh plugins [DIR]   build the example plugins into DIR/<name>.binary (default plugins/)
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
# Keep in step with UNIVERSAL_PYTHONS/UNIVERSAL_MACHINES in toru/platform_check.py
# (tests/unit/test_platform_check.py checks it).
UNIVERSAL_PYTHONS="3.10 3.11 3.12 3.13 3.14"
UNIVERSAL_MACHINES="x86_64 aarch64"
STAGE=.build
WORK=  # this build's own directory under $STAGE (set by build), so two builds never share one

say() { printf '%s\n' "build.sh: $*" >&2; }
die() { say "$*"; exit 1; }

command=build universal=0 output=dist/toru.pyz
while [ $# -gt 0 ]; do
  case "$1" in
    build|run|test|plugins) command=$1; shift; [ "$command" = build ] || break ;;
    --universal) universal=1; shift ;;
    --output) output=${2:?--output needs a file}; shift 2 ;;
    --check) command=check; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see ./build.sh --help)" ;;
  esac
done

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$PYTHON is $("$PYTHON" -V 2>&1); Toru needs Python 3.10 or newer (set PYTHON=...)"

# venv DIR REQUIREMENTS...: create DIR once, (re)install when a requirements file changed.
venv() {
  local dir=$1; shift
  local stamp="$dir/.requirements.sha256"
  local want; want=$(cat "$@" | sha256sum | cut -d' ' -f1)
  if [ ! -x "$dir/bin/python" ]; then
    say "creating $dir"
    "$PYTHON" -m venv "$dir" || die "could not create a venv: on Debian, apt-get install python3-venv"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing into $dir: $*"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    local args=(); for r in "$@"; do args+=(-r "$r"); done
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "${args[@]}"
    echo "$want" > "$stamp"
  fi
}

# Fetch the runtime wheels for one (python, machine) target into $WORK/t-PY-MACHINE.
# abi3 modules (psutil, argon2) are named the same for every CPU, so each is
# renamed to the version- and CPU-tagged name CPython also looks for, which
# lets the wheels of all targets share one site-packages.
fetch_target() {
  local py=$1 machine=$2 dir="$WORK/t-$1-$2"
  rm -rf "$dir"
  say "fetching wheels for CPython $py on $machine"
  if ! .venv-build/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-compile \
      --target "$dir" --only-binary=:all: --implementation cp --python-version "$py" \
      --platform "manylinux_2_28_$machine" --platform "manylinux2014_$machine" \
      -r requirements.txt 2> "$dir.err"; then
    grep -v '^WARNING' "$dir.err" >&2 || true
    die "a pinned package in requirements.txt has no wheel for CPython $py on $machine (see above): pin a release that has one"
  fi
  local tag="cpython-${py/./}-$machine-linux-gnu"
  find "$dir" -name '*.abi3.so' | while read -r so; do mv "$so" "${so%.abi3.so}.$tag.so"; done
  rm -rf "$dir/bin"
}

# Fill $WORK/site with every target's wheels. The fetches (one pip each)
# run side by side, two at a time per CPU; the copies into site/ follow in
# a fixed order, so the first target's pure-Python files are the ones kept.
stage_targets() {
  local targets=() pids=() failed=0 running=0 jobs=$(( $(nproc 2>/dev/null || echo 1) * 2 ))
  for py in $UNIVERSAL_PYTHONS; do for m in $UNIVERSAL_MACHINES; do targets+=("$py $m"); done; done
  for t in "${targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then wait -n || failed=1; running=$((running - 1)); fi
    # shellcheck disable=SC2086
    fetch_target $t & pids+=($!); running=$((running + 1))
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || failed=1; done
  [ "$failed" = 0 ] || exit 1
  for t in "${targets[@]}"; do cp -a -n "$WORK/t-${t/ /-}/." "$WORK/site/"; done
}

# The interpreters that compile the pyz's bytecode: this build's Python, or
# for --universal each of its Pythons found here (pythonX.Y on PATH, else a
# pyenv build, as tests/integration/test_pyz.py looks for them). A Python
# left without gets no .pyc in the pyz: on its first start it compiles only
# the modules it imports, into the unpacked copy, as a checkout does.
bytecode_pythons() {
  local version exe
  if [ "$universal" = 0 ]; then echo "$PYTHON"; return; fi
  for version in $UNIVERSAL_PYTHONS; do
    for exe in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version"; do
      # shellcheck disable=SC2016
      if "$exe" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != sys.argv[1] or "t" in sys.abiflags)' \
          "$version" 2>/dev/null; then
        echo "$exe"; break
      fi
    done
  done
}

# What the pyz is made of, a line each, "VALUE  NAME": its files' checksums,
# the Python that compiles its bytecode, the kind of build. A build records
# them with the pyz's own checksum; the next one keeps the pyz when they
# are all the same (./build.sh run starts in a second, and offline).
build_inputs() {
  printf '%s  python\n%s  universal\n' "$("$PYTHON" -c 'import sys; print(sys.version.split()[0])')" "$universal"
  if [ "$universal" = 1 ]; then bytecode_pythons | sed 's/$/  bytecode-python/'; fi
  find build.sh pyz_main.py requirements.txt requirements-build.txt pyproject.toml setup.cfg README.md \
      toru static sdk_py/toru_plugin -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum
}

stamp_file() {
  local key; key=$(realpath -m "$output" | sha256sum | cut -c1-16)
  echo "$STAGE/stamps/$key"
}

# stale_reason INPUTS: why $output must be built; nothing when it is up to date.
stale_reason() {
  local inputs=$1 stamp; stamp=$(stamp_file)
  if [ ! -f "$output" ]; then echo "$output does not exist yet"; return; fi
  if [ ! -f "$stamp" ]; then echo "no record of what $output was built from"; return; fi
  if [ "$(sed -n 's/  pyz$//p' "$stamp")" != "$(sha256sum < "$output" | cut -d' ' -f1)" ]; then
    echo "$output is not the file this checkout built"; return
  fi
  local changed
  changed=$(diff <(grep -v '  pyz$' "$stamp") - <<< "$inputs" | sed -n 's/^[<>] [^ ]*  //p' | sort -u) || true
  [ -z "$changed" ] || echo "$changed" | awk '{ names[NR] = $0 } END {
    text = names[1]; for (i = 2; i <= NR && i <= 3; i++) text = text ", " names[i]
    if (NR > 3) text = text " and " NR - 3 " more"
    print text " changed" }'
}

build() {
  local inputs reason stamp
  inputs=$(build_inputs)
  stamp=$(stamp_file)
  reason=$(stale_reason "$inputs")
  if [ -z "$reason" ]; then
    say "$output is up to date (nothing it is made of changed; delete it to build it anew)"
    return
  fi
  say "building $output: $reason"
  venv .venv-build requirements-build.txt
  mkdir -p "$STAGE" "$(dirname "$output")"
  WORK=$(mktemp -d "$STAGE/build.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  mkdir "$WORK/site"
  local pythons machines
  if [ "$universal" = 1 ]; then
    pythons=$UNIVERSAL_PYTHONS machines=$UNIVERSAL_MACHINES
    stage_targets
  else
    pythons=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    machines=$(uname -m)
    say "fetching wheels for this Python ($pythons on $machines)"
    .venv-build/bin/python -m pip install -q --disable-pip-version-check --no-compile --target "$WORK/site" \
      --only-binary=:all: -r requirements.txt 2> >(grep -v '^WARNING' >&2)
  fi
  say "adding toru"
  .venv-build/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
    --no-compile --target "$WORK/site" . 2> >(grep -v '^WARNING' >&2)
  rm -rf build toru.egg-info "$WORK/site/bin"
  # Every file here is unpacked on a first start: leave out what never runs
  # on a server. The libraries' own test suites are most of their size; C
  # sources, headers and type stubs are for compilers and editors; RECORD
  # is pip's list for uninstalling (and would be wrong after this). Licences,
  # METADATA and entry_points.txt (gevent reads its plugins there) stay.
  find "$WORK/site" -depth -type d \( -name tests -o -name testing \) -not -path "*/toru/*" -exec rm -rf {} +
  find "$WORK/site" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' \
    -o -name '*.pyx' -o -name '*.pxd' -o -name '*.pyi' -o -path '*.dist-info/RECORD' \) \
    -not -path "*/toru/*" -delete
  # Bytecode made here rather than on the first start (shiv's --compile-pyc
  # compiles every file of every library there: most of a cold start).
  # Hash-based and unchecked: an unpacked file's modification time is the
  # time it was unpacked, which a timestamp-checked .pyc would take as a
  # change and compile again; the unpacked copy is never edited (it is
  # named after the build).
  local compiled=() py
  while IFS= read -r py; do
    (cd "$WORK/site" && "$py" -m compileall -q -j 0 --invalidation-mode unchecked-hash .) \
      || die "$py could not compile the pyz's modules (see above)"
    compiled+=("$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')")
  done < <(bytecode_pythons)
  say "bytecode for CPython ${compiled[*]:-none}"
  # What this pyz can run on: toru/platform_check.py reads it at start.
  "$PYTHON" - "$WORK/site/toru/_build.json" "$pythons" "$machines" "${compiled[*]}" <<'PY'
import json, sys
path, pythons, machines, bytecode = sys.argv[1:]
json.dump({"pythons": pythons.split(), "machines": machines.split(), "bytecode": bytecode.split()},
          open(path, "w"))
PY
  say "writing $output"
  # Written next to it and renamed over it: a server running the old file
  # keeps its inode instead of reading a half-written one.
  local partial="$output.partial-$$"
  .venv-build/bin/shiv --site-packages "$WORK/site" --entry-point toru.__main__:main \
    --python '/usr/bin/env python3' --output-file "$partial"
  # pyz_main.py runs before shiv's bootstrap: a writable unpack root for
  # users without a writable HOME, and only this interpreter's files
  # unpacked. shiv leaves .pyc files out: add them.
  "$PYTHON" - "$partial" pyz_main.py "$WORK/site" <<'PY'
import os, shutil, sys, zipfile
path, launcher, site = sys.argv[1:]
with open(path, "rb") as f:
    shebang = f.readline()
with zipfile.ZipFile(path) as source, open(path + ".main", "wb") as out:
    out.write(shebang)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = open(launcher, "rb").read() if item.filename == "__main__.py" else source.read(item)
            target.writestr(item, data)
        built_at = source.getinfo("environment.json").date_time
        for directory, _, files in sorted(os.walk(site)):
            if os.path.basename(directory) != "__pycache__":
                continue
            for name in sorted(files):
                file = os.path.join(directory, name)
                item = zipfile.ZipInfo("site-packages/" + os.path.relpath(file, site), built_at)
                item.external_attr = 0o100644 << 16
                item.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(item, open(file, "rb").read())
shutil.copymode(path, path + ".main")
PY
  mv -f "$partial.main" "$output" && rm -f "$partial"
  rm -rf "$WORK" && trap - EXIT
  # The inputs as they were when this build began: an edit made meanwhile
  # leaves them different from the checkout's, so the next build rebuilds.
  mkdir -p "$STAGE/stamps"
  printf '%s\n%s  pyz\n' "$inputs" "$(sha256sum < "$output" | cut -d' ' -f1)" > "$stamp.new-$$"
  mv -f "$stamp.new-$$" "$stamp"
  say "built $output ($(du -h "$output" | cut -f1), CPython $pythons on $machines)"
}

# `run` from a checkout: the data goes in the git-ignored ./data unless
# --data-dir or TORU_DATA_DIR says otherwise (a pyz copied to a server keeps
# the current directory), and a taken port is said before anything is built.
run() {
  local args=("$@") has_dir=0 host=${STEERING_HOST:-127.0.0.1} port=${STEERING_PORT:-3000} i
  for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
      --data-dir|--data-dir=*) has_dir=1 ;;
      --host) host=${args[i + 1]:-$host} ;;
      --host=*) host=${args[i]#--host=} ;;
      --port) port=${args[i + 1]:-$port} ;;
      --port=*) port=${args[i]#--port=} ;;
    esac
  done
  if ! "$PYTHON" - "$host" "$port" <<'PY'
import socket, sys
host, port = sys.argv[1], sys.argv[2]
try:
    family, _, _, _, address = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(address)
except (OSError, ValueError):
    sys.exit(1)
PY
  then
    die "port $port on $host is already in use (is Toru already running?): stop it, or pass --port N"
  fi
  if [ "$has_dir" = 0 ] && [ -z "${TORU_DATA_DIR:-}" ]; then
    args=(--data-dir "$PWD/data" "${args[@]}")
    say "data directory: $PWD/data (git-ignored; pass --data-dir to choose another)"
  fi
  build
  exec "$PYTHON" "$output" "${args[@]}"
}

# Each examples/<name>/plugin.py becomes DIR/<name>.binary: a zipapp holding
# the example's files (its bundle.js too) and a copy of the SDK, so a plugin
# ships as one file. Node examples are copied as they are (shebang and all).
# Then the directory must pass --metadata-check, as Toru would see it.
plugins() {
  local dir=${1:-plugins} stage built=0
  [ $# -le 1 ] || die "plugins takes at most one directory (see ./build.sh --help)"
  [ -f sdk_py/toru_plugin/__init__.py ] || die "sdk_py/toru_plugin is missing: the Python examples need the SDK"
  mkdir -p "$dir" "$STAGE"
  # Its own staging directory: two of these at once never share one.
  stage=$(mktemp -d "$STAGE/plugins.XXXXXX")
  trap 'rm -rf "$stage"' EXIT
  for source in examples/*/plugin.py; do
    local example; example=$(dirname "$source"); local name; name=$(basename "$example")
    mkdir "$stage/$name"
    cp -R "$example/." "$stage/$name/"
    cp -R sdk_py/toru_plugin "$stage/$name/toru_plugin"
    find "$stage/$name" -depth \( -name __pycache__ -o -name '*.pyc' \) -exec rm -rf {} +
    # runpy keeps plugin.py's own `if __name__ == "__main__"` working inside the zip.
    printf '%s\n' 'import runpy' 'runpy.run_module("plugin", run_name="__main__")' > "$stage/$name/__main__.py"
    "$PYTHON" -m zipapp "$stage/$name" --python '/usr/bin/env python3' --compress --output "$dir/.$name.binary.new"
    chmod 755 "$dir/.$name.binary.new"
    # Renamed over the old file: a running plugin keeps its inode ("text file busy" otherwise).
    mv -f "$dir/.$name.binary.new" "$dir/$name.binary"
    say "built $dir/$name.binary"; built=$((built + 1))
  done
  for source in examples/*/plugin.js; do
    local name; name=$(basename "$(dirname "$source")")
    if ! command -v node >/dev/null 2>&1; then
      say "skipping $name: node is not installed (apt-get install nodejs to build it)"
      rm -f "$dir/$name.binary"
      continue
    fi
    install -m 755 "$source" "$dir/.$name.binary.new"
    mv -f "$dir/.$name.binary.new" "$dir/$name.binary"
    say "copied $dir/$name.binary"; built=$((built + 1))
  done
  rm -rf "$stage" && trap - EXIT
  say "$built plugins in $dir; checking them as Toru would"
  # The freshly built pyz checks them: no test venv just for this.
  build
  "$PYTHON" "$output" --metadata-check "$dir" || die "--metadata-check failed on $dir (see above)"
}

case "$command" in
  build) build ;;
  check)
    reason=$(stale_reason "$(build_inputs)")
    if [ -n "$reason" ]; then say "$output would be built: $reason"; exit 1; fi
    say "$output is up to date"
    ;;
  plugins) plugins "$@" ;;
  run) run "$@" ;;
  test)
    build
    venv .venv-test requirements.txt requirements-test.txt
    # Unused imports and names, undefined names: the rule set is in pyproject.toml.
    say "ruff check (rules in pyproject.toml)"
    .venv-test/bin/ruff check --quiet . || die "ruff found problems (above): fix them, or run .venv-test/bin/ruff check --fix ."
    export TORU_PYZ=$PWD/$output
    # Test files are shared out to TORU_TEST_WORKERS processes (default 2),
    # each file whole on one (its module-wide server stays its own);
    # TORU_TEST_WORKERS=0 runs everything in this process, for debugging.
    workers=${TORU_TEST_WORKERS:-2}
    if [ "$workers" = 0 ]; then
      exec .venv-test/bin/python -m pytest "$@"
    fi
    exec .venv-test/bin/python -m pytest -n "$workers" --dist loadfile "$@"
    ;;
esac
