#!/bin/sh
# Run every benchmark binary; each prints our figure beside its peer's from the same run.
set -u
failed=0
for b in "$@"; do
	echo "== $(basename "$b")"
	case "$b" in
	*.py) /usr/bin/python3 "$b" ;;
	*) "$b" ;;
	esac || { failed=$((failed + 1)); echo "FAILED: $b"; }
done
echo "bench: $# benchmarks, $failed failed"
[ "$failed" -eq 0 ]
