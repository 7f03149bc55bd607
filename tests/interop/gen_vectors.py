#!/usr/bin/env python3
"""gen_vectors.py - schema test vectors for Vigil, computed by fastavro.

For every schemas/*.avsc (and schemas/history/*.avsc when that directory
exists) computes, with fastavro as an independent reference implementation:

  * the Parsing Canonical Form  (fastavro.schema.to_parsing_canonical_form)
  * the CRC-64-AVRO fingerprint (fastavro.schema.fingerprint(pcf, "CRC-64-AVRO"))

and writes tests/data/vigil-schema-vectors.txt in the layout of Apache Avro's
share/test/data/schema-tests.txt (tests/data/avro-schema-tests.txt), one block
per schema:

    // <file>
    <<file schemas/X.avsc
    <<canonical <Parsing Canonical Form>
    <<fingerprint <CRC-64-AVRO as a signed 64-bit decimal, as Java's long>

Byte order: fastavro's fingerprint() returns the hex of the 8 fingerprint
bytes in little-endian order (the order they have in the single-object
header). The signed decimal is those bytes read as a little-endian int64,
which is what Apache Avro's SchemaNormalization.parsingFingerprint64 returns
and what schema-tests.txt lists. The 16-hex digits in the header table are the
same value as an unsigned 64-bit number (printf "%016llx"), which is how
`vigil codec schemas` prints it.

Usage (from anywhere; paths are relative to the repository root):
    ~/.cache/vigil/venv/bin/python tests/interop/gen_vectors.py          # write
    ~/.cache/vigil/venv/bin/python tests/interop/gen_vectors.py --check  # compare
    ~/.cache/vigil/venv/bin/python tests/interop/gen_vectors.py --stdout

--check exits 1 if the file on disk differs from what would be generated
(ignoring the '#' header and blank lines), i.e. when a schema changed but the vectors
were not regenerated.
"""

import argparse
import glob
import json
import os
import sys

try:
    import fastavro
    from fastavro.schema import fingerprint, to_parsing_canonical_form
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write("fastavro not available: run ops/setup.sh (%s)\n" % e)
    sys.exit(1)

OUT_REL = "tests/data/vigil-schema-vectors.txt"
COMMAND = ("${VIGIL_PYTHON:-$HOME/.cache/vigil/venv/bin/python} "
           "tests/interop/gen_vectors.py")


def repo_root():
    return os.environ.get("VIGIL_SRC") or os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def schema_files(root):
    """Relative paths (POSIX) of every shipped schema, current first."""
    cur = sorted(glob.glob(os.path.join(root, "schemas", "*.avsc")))
    hist = sorted(glob.glob(os.path.join(root, "schemas", "history", "*.avsc")))
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in cur + hist]


def fp_le_bytes(canonical):
    """The 8 fingerprint bytes as they appear on the wire (little-endian)."""
    return bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO"))


def vector(root, rel):
    """(rel, canonical, signed decimal, unsigned 16-hex) of one .avsc."""
    with open(os.path.join(root, rel), encoding="utf-8") as f:
        schema = json.load(f)
    canonical = to_parsing_canonical_form(schema)
    b = fp_le_bytes(canonical)
    signed = int.from_bytes(b, "little", signed=True)
    unsigned = int.from_bytes(b, "little", signed=False)
    return rel, canonical, signed, "%016x" % unsigned


def render(root):
    vecs = [vector(root, rel) for rel in schema_files(root)]
    if not vecs:
        raise SystemExit("gen_vectors: no schemas/*.avsc under %s" % root)
    out = [
        "# vigil-schema-vectors.txt - Parsing Canonical Form and CRC-64-AVRO",
        "# fingerprint of every Vigil schema, computed by an independent",
        "# implementation (fastavro), for the C unit tests of schemas/vg_schema.c.",
        "#",
        "# GENERATED - do not edit by hand. Regenerate from the repository root:",
        "#     %s" % COMMAND,
        "# with fastavro %s (Python %d.%d), using" % (
            fastavro.__version__, sys.version_info[0], sys.version_info[1]),
        "#     fastavro.schema.to_parsing_canonical_form(json.load(file))",
        "#     fastavro.schema.fingerprint(canonical, \"CRC-64-AVRO\")",
        "# Check it is current: the same command with --check (run by",
        "# tests/interop/test_fastavro.sh).",
        "#",
        "# Format as Apache Avro's schema-tests.txt (tests/data/"
        "avro-schema-tests.txt):",
        "# blocks separated by a blank line, '<<key value' lines; <<fingerprint is",
        "# the signed 64-bit decimal (Java long) of the little-endian fingerprint",
        "# bytes. The same fingerprints as unsigned 64-bit hex (printf %016llx,",
        "# as `vigil codec schemas` prints them; wire bytes are little-endian):",
        "#",
    ]
    w = max(len(v[0]) for v in vecs)
    for rel, _canon, _signed, hx in vecs:
        out.append("#     %-*s  %s" % (w, rel, hx))
    for rel, canon, signed, _hx in vecs:
        out += ["", "// %s" % rel, "<<file %s" % rel,
                "<<canonical %s" % canon, "<<fingerprint %d" % signed]
    return "\n".join(out) + "\n"


def body(text):
    """What --check compares: the lines that are neither '#' header lines
    nor blank."""
    return [l for l in text.splitlines() if l.strip() and not l.startswith("#")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true",
                   help="compare with the file on disk, exit 1 if stale")
    g.add_argument("--stdout", action="store_true",
                   help="write to stdout instead of the file")
    ap.add_argument("--out", help="output file (default: <repo>/%s)" % OUT_REL)
    args = ap.parse_args()

    root = repo_root()
    path = args.out or os.path.join(root, OUT_REL)
    text = render(root)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except OSError as e:
            print("gen_vectors: %s: %s" % (path, e.strerror), file=sys.stderr)
            return 1
        if body(old) != body(text):
            import difflib
            sys.stderr.write("gen_vectors: %s is stale; regenerate with:\n"
                             "    %s\n" % (path, COMMAND))
            sys.stderr.writelines(difflib.unified_diff(
                [l + "\n" for l in body(old)], [l + "\n" for l in body(text)],
                "on disk", "generated now"))
            return 1
        print("gen_vectors: %s is current (%d schemas)" % (
            os.path.relpath(path, root), len(schema_files(root))))
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print("gen_vectors: wrote %s (%d schemas)" % (
        os.path.relpath(path, root), len(schema_files(root))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
