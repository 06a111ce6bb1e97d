#!/usr/bin/env bash
# The first hour on a new GPU: the test suite, `dae check`, `dae bench`, the
# side-by-side epoch benchmark and every study at full length, into one
# folder with a summary table. Run from the repository root:
#
#   tools/full-run.sh [OUT]          # OUT defaults to results/full-run-<date>
#
# Environment: STUDIES="mlp-dae conv-dae" runs a subset; SCALE=0.1 runs each
# study at a tenth of its epochs; STUDY_ARGS="--train-limit 512
# --test-limit 200" adds options to every study (a trial run of the script
# itself); SKIP_TESTS=1 skips `cargo test`. Every step runs even if an earlier one failed; the script
# exits non-zero if any did. Nothing is deleted: an existing OUT is refused.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-results/full-run-$(date +%Y%m%d-%H%M%S)}
STUDIES=${STUDIES:-"mlp-dae conv-dae stacked fashion-cae sp-dae"}
SCALE=${SCALE:-1}
STUDY_ARGS=${STUDY_ARGS:-}
if [ -e "$OUT" ]; then
    echo "error: $OUT already exists; pass another folder (nothing was run)" >&2
    exit 2
fi
mkdir -p "$OUT/studies"
SUMMARY="$OUT/summary.md"
FAILED=0

echo "building dae (release)..."
if ! cargo build --release >"$OUT/build.log" 2>&1; then
    echo "error: cargo build failed; see $OUT/build.log" >&2
    exit 1
fi
DAE=target/release/dae

{
    echo "# dae full run, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo '```'
    "$DAE" info 2>&1
    echo '```'
    echo
    echo "| step | result | seconds | output |"
    echo "| --- | --- | --- | --- |"
} >"$SUMMARY"

# step NAME LOGFILE COMMAND...: runs, times and records one step.
step() {
    local name=$1 log=$2
    shift 2
    echo "== $name: $*"
    local start end rc
    start=$(date +%s)
    "$@" >"$OUT/$log" 2>&1
    rc=$?
    end=$(date +%s)
    local result=pass
    if [ $rc -ne 0 ]; then
        result="FAIL (exit $rc)"
        FAILED=1
    fi
    echo "   $result in $((end - start)) s -> $OUT/$log"
    echo "| $name | $result | $((end - start)) | $log |" >>"$SUMMARY"
}

if [ "${SKIP_TESTS:-0}" != 1 ]; then
    step "cargo test --release" tests.log cargo test --release
fi
step "dae check" check.txt "$DAE" check
step "dae bench (kernels, mlp-dae step, profile)" bench.txt "$DAE" bench --profile
for p in conv-dae sp-cnn fashion-cae; do
    step "dae bench --step-preset $p --profile" "bench-$p.txt" \
        "$DAE" bench --step-only --step-preset "$p" --profile
done
step "dae bench --compare" compare.txt "$DAE" bench --compare
if python3 -c 'import keras' >/dev/null 2>&1 || python3 -c 'import torch' >/dev/null 2>&1; then
    step "benches/compare.py (CPU framework side by side)" compare-framework.txt \
        python3 benches/compare.py
fi
for s in $STUDIES; do
    # shellcheck disable=SC2086
    step "dae experiment $s (scale $SCALE)" "studies/$s.log" \
        "$DAE" experiment "$s" --scale "$SCALE" --quiet --out "$OUT/studies/$s" $STUDY_ARGS
done

{
    echo
    echo "Figures and tables of each study: \`studies/<name>/report.md\`."
    if [ $FAILED -ne 0 ]; then
        echo
        echo "**Some steps failed.** A failing \`dae check\` row is a kernel computing a wrong"
        echo "result on this adapter: please report check.txt with the \`dae info\` above."
    fi
} >>"$SUMMARY"
echo
cat "$SUMMARY"
exit $FAILED
