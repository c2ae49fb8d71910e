# SPDX-License-Identifier: GPL-2.0
# A WQ file's own counters, read as the file closes: shared by dsa-idxd.sh (the C idxd driver
# and ridxd on the QEMU intel-dsa devices) and accfg-ridxd.sh (ridxd's model devices).

# A pattern of dsa_test -e (accel-config's event-log cases, test_all.sh: <batch: bc_fault,
# bc_wr_fail,da_fault,da_idx>:<per descriptor: desc_fault,cp_fault,cp_wr_fail,fence>...): a
# batch of 8 descriptors, each CR in a page dropped before submission (cp_fault), with PRS off
# 9 event-log entries: 8 CR faults (0x1a) and the batch's own CR (0x27). dsa_test drops CR
# pages only in these -e batches (their CRs are page-aligned): a -f 0x10 run without -e calls
# madvise() on a 32-byte-aligned CR, which fails, and no CR faults.
CR_FAULTS_8=0,0,0,0$(for i in 1 2 3 4 5 6 7 8; do printf ':0,1,0,0'; done)

# cr_faults_at_close DEV WQ EVL_FILE N DSA_TEST-ARGS...: accel-config's dsa_test on /dev/dsa/WQ
# of device DEV, its close() of that file held back by 2 s (strace's syscall delay, for calls
# on that path only: -P), so that the file's node on the dsa bus (file<N>: pid, cr_faults,
# cr_fault_failures) is read, every 100 ms, until the process is gone. The last reading,
# taken while the close was held, is what the file counted in all. dsa_test must pass; its
# close must have been the one call held back; the node's pid must be dsa_test's (strace's child); cr_faults
# must be N, and the number of entries the run put into DEV's event log (EVL_FILE's tail moved
# by that much, modulo event_log_size: idxd counts one per CR-fault entry it handles,
# idxd_evl_fault_work()); cr_fault_failures must be 0.
cr_faults_at_close() {
	dev=$1 wq=$2 evl=$3 want=$4
	shift 4
	size=$(cat "/sys/bus/dsa/devices/$dev/event_log_size")
	tail0=$(evl_tail_of "$evl")
	strace -f -o /tmp/cr-strace.out -P "/dev/dsa/$wq" -e trace=close \
		-e inject=close:delay_enter=2000000 \
		dsa_test -d "$dev/$wq" -t 5000 "$@" >/tmp/cr-dsatest.out 2>&1 </dev/null &
	spid=$!
	last=""
	while kill -0 $spid 2>/dev/null; do
		for f in /sys/bus/dsa/devices/file*; do
			[ -e "$f/cr_faults" ] || continue
			p=$(cat "$f/pid" 2>/dev/null)
			# The opener's parent: strace, when the opener is the dsa_test it runs.
			r="$p $(cut -d' ' -f4 "/proc/$p/stat" 2>/dev/null)"
			r="$r $(cat "$f/cr_faults" 2>/dev/null) $(cat "$f/cr_fault_failures" 2>/dev/null)"
			# A node read while it went away is not a reading.
			[ "$(echo "$r" | wc -w)" = 4 ] && last="${f##*/} $r"
		done
		sleep 0.1
	done
	wait $spid
	rc=$?
	tail1=$(evl_tail_of "$evl")
	entries=$(((tail1 - tail0 + size) % size))
	held=$(grep -c 'DELAYED' /tmp/cr-strace.out)
	set -- $last
	echo "# dsa_test rc $rc (strace pid $spid); close calls held: $held; last reading (file, pid, its parent, cr_faults, cr_fault_failures): ${last:-none}; event-log entries: $entries"
	if [ $rc != 0 ]; then
		tail -n 20 /tmp/cr-dsatest.out | sed 's/^/# /'
		return 1
	fi
	[ "$held" = 1 ] && [ $# = 5 ] && [ "$3" = "$spid" ] && [ "$4" = "$want" ] &&
		[ "$entries" = "$want" ] && [ "$5" = 0 ]
}

# evl_tail_of EVL_FILE: the tail index in a debugfs event-log dump (idxd's and ridxd's both
# begin with "head <H> tail <T>").
evl_tail_of() {
	sed -nE 's/^(Event Log )?head [0-9]+ tail ([0-9]+) .*/\2/p' "$1"
}
