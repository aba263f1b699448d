#!/bin/sh
# Run each libFuzzer target for a bounded time (FUZZ_SECONDS, default 15). The corpus
# lives under build/fuzz/corpus-NAME so later runs start where earlier ones stopped.
set -eu
secs=${FUZZ_SECONDS:-15}
failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$(dirname "$bin")/corpus-$name"
	mkdir -p "$corpus"
	echo "== $name (${secs}s)"
	if "$bin" -max_total_time="$secs" -max_len=4096 -print_final_stats=0 "$corpus" \
		>"$(dirname "$bin")/$name.log" 2>&1; then
		echo "$name: $(grep -E '^(#[0-9]+.*DONE|Done)' "$(dirname "$bin")/$name.log" | tail -1)"
	else
		failed=$((failed + 1))
		tail -40 "$(dirname "$bin")/$name.log"
		echo "FAILED: $name"
	fi
done
echo "fuzz: $# targets, $failed failed"
[ "$failed" -eq 0 ]
