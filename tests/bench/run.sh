#!/bin/sh
# Run every benchmark binary; each prints our figure beside its peer's from the same run.
set -u
failed=0
for b in "$@"; do
	echo "== $(basename "$b")"
	case "$b" in
	*.py) /usr/bin/python3 "$b" ;;
	# issue 16 measures both sizes: 10,000 instances stored (its default) and 100,000
	*/bench_ctl_describe) "$b" && "$b" 5 16 100000 ;;
	*) "$b" ;;
	esac || { failed=$((failed + 1)); echo "FAILED: $b"; }
done
echo "bench: $# benchmarks, $failed failed"
[ "$failed" -eq 0 ]
