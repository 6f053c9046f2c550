#!/usr/bin/env bash
# Opens the page `seqgrad inspect` writes in headless Chromium and checks that it loads without
# errors and that its figures are there. Skips (exit 0 with a note) when chromium is not installed.
# Usage: inspect_page.sh BUILD_DIR
set -euo pipefail
build=$1
seqgrad="$build/seqgrad"
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
  echo "SKIP: chromium is not installed (apt-get install chromium)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# a tiny model: reverse 3-5 digits, two epochs
python_free_data() {
  local i n a b
  for i in $(seq 1 300); do
    n=$((3 + RANDOM % 3)); a=""; b=""
    for _ in $(seq 1 $n); do d=$((RANDOM % 10)); a="$a $d"; b="$d $b"; done
    printf '%s\t%s\n' "${a# }" "${b% }"
  done
}
RANDOM=7
python_free_data > "$work/data.tsv"
"$seqgrad" train --data "$work/data.tsv" --out "$work/model" --epochs 2 --hidden 16 --embed 8 --bleu-examples 10 > "$work/train.log"
"$seqgrad" inspect --model "$work/model" --step 0 --out "$work/page.html" "1 2 3 4" > "$work/inspect.log"
# --dump-dom prints the DOM after load; --enable-logging prints console errors on stderr
"$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir="$work/profile" --enable-logging=stderr --v=0 \
  --dump-dom "file://$work/page.html" > "$work/dom.html" 2> "$work/chrome.err" || true
fail=0
for id in fig-scores fig-weights fig-dweights fig-dscores fig-dencoder-norm fig-dencoder identity; do
  grep -q "id=\"$id\"" "$work/dom.html" || { echo "missing figure $id"; fail=1; }
done
svgs=$(grep -o "<svg" "$work/dom.html" | wc -l)
[ "$svgs" -ge 6 ] || { echo "expected at least 6 inline SVGs, found $svgs"; fail=1; }
if grep -E "Uncaught|CONSOLE.*(error|Error)|net::ERR" "$work/chrome.err" | grep -v -E "dbus|Fontconfig|gpu|GPU" ; then
  echo "the page logged errors"; fail=1
fi
if grep -E "http://|https://|<script" "$work/page.html" | grep -v "xmlns" ; then
  echo "the page is not self-contained"; fail=1
fi
[ $fail = 0 ] && echo "inspect page: loads in headless Chromium with all $svgs figures"
exit $fail
