#!/usr/bin/env bash
# python/seqgrad_torch.py against seqgrad: a small model folder is trained (the bundled reverse task, 1500
# pairs, seconds), `seqgrad eval --json-lines` writes its greedy translations of the held-out split with
# their source and reference tokens, and the torch.nn.Module built from the folder must give the same
# translations (at least 20 of the 40 different ones) and the same teacher-forced perplexity (within
# 1e-4). Run for a GRU with additive attention, a bidirectional 2-layer LSTM with input feeding and
# general attention, a model without attention, and the Transformer (post-norm, and pre-norm with tied embeddings).
# Skips (exit 77, ctest's SKIP_RETURN_CODE) without /usr/bin/python3 and torch.
# Usage: torch_translator_check.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
python=/usr/bin/python3
if [ ! -x "$python" ] || ! "$python" -c "import torch, numpy" 2> /dev/null; then
  echo "SKIP: /usr/bin/python3 with torch and numpy is needed (apt-get install python3-torch)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check() {
  local name=$1
  shift
  "$build/seqgrad" train --task reverse --max-pairs 1500 --epochs 4 --lr 0.005 --bleu-examples 10 \
    --out "$work/$name" "$@" > "$work/$name.log"
  local ppl
  ppl=$("$build/seqgrad" eval --model "$work/$name" --limit 40 --json-lines "$work/$name.jsonl" --json |
        "$python" -c "import json, sys; print(json.load(sys.stdin)['perplexity'])")
  echo "$name: seqgrad perplexity $ppl"
  "$python" "$source/python/seqgrad_torch.py" --model "$work/$name" --check "$work/$name.jsonl" --perplexity "$ppl" \
    --min-distinct 20
}
check gru-additive --hidden 32
check lstm-bi-feeding --hidden 32 --cell lstm --bidirectional --input-feeding --attention general --layers 2
check gru-none --hidden 32 --attention none
check transformer --arch transformer --d-model 32 --heads 2 --ff 64 --layers 1
check transformer-pre-tied --arch transformer --d-model 32 --heads 2 --ff 64 --layers 2 --pre-norm --tie-embeddings
