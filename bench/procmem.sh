# shellcheck shell=bash
# bench/procmem.sh: the host processes of a sandbox and their memory, for
# bench/oci (an idle sandbox) and bench/veth (a server under load). Sourced.

# procs_of PID ROOTDIR: PID, its descendants, and every process whose command
# line names ROOTDIR (gVisor's gofer and sandbox are not below its pid file's
# pid), with their descendants; one pid a line.
procs_of() {
	local todo=("$1") seen=" " p c
	for p in /proc/[0-9]*; do
		grep -qaF -- "$2" "$p/cmdline" 2>/dev/null && todo+=("${p#/proc/}")
	done
	while ((${#todo[@]})); do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		[[ $seen == *" $p "* || ! -d /proc/$p ]] && continue
		seen+="$p "
		echo "$p"
		read -r -a c <<<"$(cat /proc/"$p"/task/*/children 2>/dev/null)"
		todo+=("${c[@]}")
	done
}
# proc_name PID: "PROGRAM SUBCOMMAND (role)" from the command line, flags
# left out; a process with no command line (a ptrace stub) by its comm.
proc_name() {
	local argv w prog sub=""
	mapfile -d '' -t argv <"/proc/$1/cmdline" 2>/dev/null || true
	if ((${#argv[@]} == 0)); then
		echo "stub process [$(cat "/proc/$1/comm" 2>/dev/null)]"
		return
	fi
	prog=${argv[0]##*/}
	[[ $prog == exe ]] && prog=$(readlink "/proc/$1/exe" 2>/dev/null) && prog=${prog##*/}
	for w in "${argv[@]:1}"; do
		[[ $w == -* ]] && continue
		sub=$w
		break
	done
	case "$sub" in
	boot) sub="boot (Sentry)" ;;
	gofer) sub="gofer (Gofer)" ;;
	supervise) sub="supervise (supervisor)" ;;
	esac
	echo "$prog $sub [$(cat "/proc/$1/comm" 2>/dev/null)]"
}
# starttime PID: the start time of PID (field 22 of stat), to tell a reused pid
starttime() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null || true; }
pstate() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true; } # Z: a zombie
# mem_of PID: "RSS_KB PSS_KB" from smaps_rollup
mem_of() {
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { print r + 0, p + 0 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo "0 0"
}
# pss_parts PID ROOTDIR: "SENTRY_KB GOFER_KB TOTAL_KB" of PSS over
# procs_of PID ROOTDIR (the Sentry and the Gofer told by proc_name)
pss_parts() {
	local p pss s=0 g=0 t=0 name
	for p in $(procs_of "$1" "$2"); do
		read -r _ pss <<<"$(mem_of "$p")"
		name=$(proc_name "$p")
		[[ $name == *"(Sentry)"* ]] && s=$((s + pss))
		[[ $name == *"(Gofer)"* ]] && g=$((g + pss))
		t=$((t + pss))
	done
	echo "$s $g $t"
}
