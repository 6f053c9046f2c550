#!/usr/bin/env bash
# `cmake --install` puts the toy corpora in <prefix>/share/seqgrad/data and the installed seqgrad
# finds them relative to itself: `train --task` works from the installed tree, and still after the
# tree is moved, reading the installed copy (its corpus summary line names the file it read).
# Usage: run.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
for f in copy dates enfr reverse; do
  test -f "$work/prefix/share/seqgrad/data/$f.tsv" || { echo "FAIL: data/$f.tsv was not installed"; exit 1; }
done
check() {  # check PREFIX RUN: train from PREFIX/bin/seqgrad reads PREFIX/share/seqgrad/data/copy.tsv
  local out
  out=$(env -u SEQGRAD_DATA_DIR "$1/bin/seqgrad" train --task copy --out "$2" --max-pairs 60 --epochs 1 \
        --hidden 8 --bleu-examples 2 --threads 1)
  if ! grep -q "^$1/share/seqgrad/data/copy.tsv: " <<< "$out"; then
    echo "FAIL: $1/bin/seqgrad did not read its own data folder:"
    echo "$out"
    exit 1
  fi
}
check "$work/prefix" "$work/run1"
mv "$work/prefix" "$work/moved"
check "$work/moved" "$work/run2"
echo "installed data found in place and after moving the tree"
