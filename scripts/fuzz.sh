#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through the libfuzzer-sys crate) of the portable protocol
# cores: the MQTT decoder, the MQTT session, the HTTP route matcher and Basic-auth parser, the
# WebSocket frame reader (targets in fuzz/fuzz_targets/). Built with the same stable rustc flags cargo-fuzz passes
# (sanitizer coverage, --cfg fuzzing), so nothing beyond cargo is needed.
#   scripts/fuzz.sh check          each target for a fixed number of inputs from a fixed seed and
#                                  an empty corpus (deterministic; part of `make test`), prints
#                                  "fuzz: N passed, N failed"
#   scripts/fuzz.sh run [SECONDS]  each target for SECONDS (default 300) on a corpus kept in
#                                  fuzz/corpus/<target>; a crash is saved in fuzz/artifacts/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"
mode=${1:-check}
targets=(mqtt_decoder mqtt_session http_request ws_frames)
# inputs per target in check mode (a few seconds each on the CI machine)
declare -A check_runs=([mqtt_decoder]=2000000 [mqtt_session]=300000 [http_request]=1000000 [ws_frames]=1000000)

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps RUSTFLAGS off build scripts (they cannot link the coverage hooks).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bins --target "$host" --target-dir target
bin=target/$host/release

passed=0
failed=0
for target in "${targets[@]}"; do
  mkdir -p artifacts/$target
  if [ "$mode" = run ]; then
    mkdir -p corpus/$target
    args=(-max_total_time="${2:-300}" corpus/$target)
  else
    args=(-seed=1 -runs="${check_runs[$target]}")
  fi
  echo "=== fuzz $target ${args[*]}"
  if "$bin/$target" -max_len=4096 -print_final_stats=1 -artifact_prefix=artifacts/$target/ "${args[@]}" \
      > "artifacts/$target.log" 2>&1; then
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "artifacts/$target.log" || true
    passed=$((passed + 1))
  else
    tail -n 40 "artifacts/$target.log"
    echo "=== fuzz $target FAILED (input saved under fuzz/artifacts/$target/)"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
