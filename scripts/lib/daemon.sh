# daemon.sh: start, check and stop background daemons by pid file (sourced by up.sh and
# down.sh). A daemon counts as running when its pid file names a live process whose
# command name matches, so a stale pid file or a recycled pid is not mistaken for it.

# daemon_pid PIDFILE NAME: print the pid if that daemon runs, else nothing (status 1).
daemon_pid() {
	[ -r "$1" ] || return 1
	pid=$(cat "$1" 2>/dev/null) || return 1
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$pid/comm" ] || return 1
	[ "$(cat "/proc/$pid/comm")" = "$2" ] || return 1
	echo "$pid"
}

# wait_for TIMEOUT_S CMD...: run CMD until it succeeds, at most TIMEOUT_S seconds.
wait_for() {
	t=$(($1 * 10))
	shift
	while [ "$t" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		t=$((t - 1))
	done
	return 1
}

# stop_pid PID NAME: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	i=0
	while [ -d "/proc/$1" ] && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -d "/proc/$1" ]; then
		echo "  $2 did not stop in 10 s; killing it"
		kill -9 "$1" 2>/dev/null || true
	fi
}

# stop_counted PIDFILE COMM NAME SAY: if that daemon runs (daemon_pid PIDFILE COMM), stop it
# (stop_pid, as NAME), print "SAY (pid PID)" and add 1 to $stopped.
stop_counted() {
	if pid=$(daemon_pid "$1" "$2"); then
		stop_pid "$pid" "$3"
		echo "$4 (pid $pid)"
		stopped=$((stopped + 1))
	fi
}
