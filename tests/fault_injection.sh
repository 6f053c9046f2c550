#!/bin/sh
# Fault injection for `seqgrad train`: kill it with SIGKILL at random moments (model folder writes
# included: config, vocabularies, split, checkpoints, metrics) and check what is left. After every
# kill the folder must either load and `train --resume` must finish the run (exit 0), or be refused
# with exactly one line on stderr (exit 2) — never a crash, a hang or an exit code of 1.
#
#   tests/fault_injection.sh BUILD_DIR [TRIALS] [SEED]        (defaults: 100 trials, seed 1)
#
# Prints one line per trial and the counts at the end; exits 1 if any trial failed. The short
# version runs in the test suite (tests/test_cli.cpp, "cli: SIGKILL at random moments ...").
set -u
build=${1:?usage: fault_injection.sh BUILD_DIR [TRIALS] [SEED]}
trials=${2:-100}
seed=${3:-1}
bin="$build/seqgrad"
[ -x "$bin" ] || { echo "fault_injection: $bin not found (build first)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/seqgrad_faults.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A small corpus and a run of a few epochs that takes a few seconds here, most of it training.
i=0
while [ $i -lt 1000 ]; do
    a=$(( i % 10 )); b=$(( i / 10 % 10 )); c=$(( i / 100 )); d=$(( i * 7 % 10 ))
    printf '%s %s %s %s\t%s %s %s %s\n' $a $b $c $d $d $c $b $a
    i=$((i + 1))
done > "$work/corpus.tsv"
args="--data $work/corpus.tsv --hidden 16 --embed 16 --batch 16 --epochs 4 --bleu-examples 5 --threads 1"

# How long a whole run takes, so kills are spread over all of it (start-up and writes included).
start=$(date +%s%N)
"$bin" train $args --out "$work/full" > /dev/null 2>&1 || { echo "fault_injection: the reference run failed"; exit 1; }
total_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$total_ms" -gt 0 ] || total_ms=1

survived=0; refused=0; failed=0
rand=$seed
t=1
while [ $t -le "$trials" ]; do
    rand=$(( (rand * 1103515245 + 12345) % 2147483648 ))
    delay_ms=$(( rand % total_ms ))
    out="$work/run$t"
    "$bin" train $args --out "$out" > "$work/log" 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -KILL $pid 2> /dev/null
    wait $pid 2> /dev/null
    if [ ! -d "$out" ]; then
        verdict="killed before the folder existed"; survived=$((survived + 1))
    else
        timeout 120 "$bin" train --out "$out" --resume --threads 1 > "$work/resume.out" 2> "$work/resume.err"
        rc=$?
        lines=$(wc -l < "$work/resume.err")
        if [ $rc -eq 0 ] && "$bin" translate --model "$out" "1 2 3 4 5" > /dev/null 2> "$work/translate.err"; then
            verdict="resumed and finished"; survived=$((survived + 1))
        elif [ $rc -eq 2 ] && [ "$lines" -eq 1 ]; then
            verdict="refused: $(cat "$work/resume.err")"; refused=$((refused + 1))
        else
            verdict="FAILED (exit $rc, $lines lines): $(head -c 300 "$work/resume.err")"; failed=$((failed + 1))
        fi
    fi
    echo "trial $t: killed after ${delay_ms} ms of ${total_ms}: $verdict"
    rm -rf "$out"
    t=$((t + 1))
done
echo "fault_injection: $trials trials: $survived resumed (or nothing written), $refused refused with one line, $failed failed"
[ $failed -eq 0 ]
