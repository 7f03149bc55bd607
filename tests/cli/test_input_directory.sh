#!/usr/bin/env bash
# A directory (or any input stdio cannot read) given where a file is
# expected is a read error, "PATH: read error: Is a directory" and exit 1,
# as process, convert and produce say; never read as an empty file, exit 0.
# Both ways in: a directory named as the input (refused when opened) and a
# directory on standard input (the read fails: ferror after the loop).
set -euo pipefail
VIGIL=${VIGIL:-$(cd "$(dirname "$0")/../.." && pwd)/build/vigil}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$TMP"; unset VIGIL_CONFIG
mkdir dir; : > empty.jsonl

# expect NAME ARGS...: exit 1 and "NAME: read error: Is a directory".
expect() {
  local name=$1; shift
  set +e; timeout 30 "$VIGIL" "$@" > out 2> err < /dev/null; rc=$?; set -e
  [ "$rc" = 1 ] || fail "vigil $*: exit $rc, want 1: $(tail -2 err)"
  grep -q -- "$name: read error: Is a directory" err \
    || fail "vigil $*: no '$name: read error: Is a directory': $(tail -2 err)"
}
expect "$TMP/dir" indicators --input "$TMP/dir"
expect "$TMP/dir" report --indicators "$TMP/dir" --alerts empty.jsonl \
  --html page.html
expect "$TMP/dir" report --indicators empty.jsonl --alerts "$TMP/dir" \
  --html page.html
[ ! -e page.html ] || fail "report wrote a page from a directory"
expect "$TMP/dir" aggregate --input "$TMP/dir"
expect "$TMP/dir" codec encode "$TMP/dir"
expect "$TMP/dir" codec decode "$TMP/dir"
expect "$TMP/dir" codec decode --raw "$TMP/dir"

# Standard input a directory: refused when opened (vg_lines_open), named
# <stdin> by every command.
python3 - "$VIGIL" "$TMP/dir" <<'PY' || fail "directory on standard input"
import os, subprocess, sys
vigil, d = sys.argv[1], sys.argv[2]
runs = [(["indicators", "--input", "-"], "<stdin>"),
        (["aggregate", "--input", "-"], "<stdin>"),
        (["report", "--indicators", "-", "--alerts", os.devnull,
          "--html", "page.html"], "<stdin>"),
        (["codec", "encode"], "<stdin>"),
        (["codec", "decode"], "<stdin>"),
        (["codec", "decode", "--raw"], "<stdin>")]
bad = 0
for args, name in runs:
    fd = os.open(d, os.O_RDONLY)
    p = subprocess.run([vigil] + args, stdin=fd, capture_output=True,
                       text=True, timeout=30)
    os.close(fd)
    want = name + ": read error: Is a directory"
    if p.returncode != 1 or want not in p.stderr:
        print("FAIL: vigil %s < DIR: exit %d, want 1 and '%s': %s"
              % (" ".join(args), p.returncode, want, p.stderr[-200:]),
              file=sys.stderr)
        bad = 1
sys.exit(bad)
PY

# Still fine: an empty file is no error.
"$VIGIL" aggregate --input empty.jsonl > out 2> err \
  || fail "aggregate of an empty file: $(tail -2 err)"
"$VIGIL" codec encode empty.jsonl > out 2> err \
  || fail "codec encode of an empty file: $(tail -2 err)"
echo "PASS: a directory as input is a read error"
