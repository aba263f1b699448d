#!/bin/sh
# Run each cmocka test binary, show its own summary, then one line for all of them.
# Exits non-zero when any binary fails. ECS_UNIT_WRAPPER (e.g. valgrind …) runs each under it.
set -u
wrapper=${ECS_UNIT_WRAPPER:-}
total=0
failed=0
for t in "$@"; do
	total=$((total + 1))
	echo "== $t"
	# stdbuf: cmocka writes to stdout and stderr; keep its lines in order.
	if ! stdbuf -oL -eL $wrapper "$t" 2>&1; then
		failed=$((failed + 1))
		echo "FAILED: $t"
	fi
done
echo "unit tests: $total binaries, $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
