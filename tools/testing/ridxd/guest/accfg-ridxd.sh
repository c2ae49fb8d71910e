# SPDX-License-Identifier: GPL-2.0
# accel-config 4.1.9 (unmodified; tools/testing/ridxd/qemu/accel-config.sh) against ridxd's
# model devices, through the idxd sysfs ABI of the dsa bus.  Sourced by tests.sh (TAP through
# tap.sh) with dsa1 (DSA 2.0) and dsa0 (DSA 1.0) in the default configuration; leaves dsa1 in
# it again (loaded from what save-config wrote), for the kselftests that follow.
#
# The CLI runs through accfg.sh (see there why).

D=/sys/bus/dsa/devices
. /ridxd/files.sh
accfg() { /ridxd/accfg.sh "$@"; }
# show_out CMD...: runs CMD, its output as TAP comments if it fails.
show_out() {
	out=$("$@" 2>&1) && return 0
	echo "$out" | sed 's/^/# /'
	return 1
}

lists_both() {
	out=$(accfg list -i 2>&1)
	echo "$out" | grep -q '"dev":"dsa0"' && echo "$out" | grep -q '"dev":"dsa1"' &&
		echo "$out" | grep -q '"dev":"wq1.7"' && echo "$out" | grep -q '"dev":"engine0.3"' &&
		echo "$out" | grep -q '"dev":"group1.3"' && return 0
	echo "$out" | sed 's/^/# /'
	return 1
}
# lists_value DEV KEY VALUE: "accel-config list -i" shows "KEY":VALUE for DEV (the line after
# its "dev" line holds its first attributes; searched in DEV's block).
lists_value() {
	accfg list -i 2>/dev/null | awk -v d="\"dev\":\"$1\"" -v kv="\"$2\":$3" '
		index($0, d) { on = 1; next }
		on && /"dev":/ { on = 0 }
		on && index($0, kv) { found = 1 }
		END { exit !found }'
}
tap_check "accel-config list -i shows both devices, their WQs, groups, engines" lists_both
tap_check "accel-config list -i: dsa1 max_work_queues 8" lists_value dsa1 max_work_queues 8
tap_check "accel-config list -i: dsa1 version 0x200" lists_value dsa1 version '"0x200"'
evl0=$(cat $D/dsa1/event_log_size)
tap_check "accel-config list -i: dsa1 event_log_size as in sysfs" lists_value dsa1 event_log_size "$evl0"
tap_check "accel-config list: dsa1 enabled" lists_value dsa1 state '"enabled"'
tap_check "accel-config save-config of the default configuration" \
	show_out accfg save-config -s /tmp/default.conf
tap_check "saved: wq1.1 shared, threshold 16" sh -c \
	"grep -q '\"mode\":\"shared\"' /tmp/default.conf && grep -q '\"threshold\":16' /tmp/default.conf"

# Two groups of two engines; wq1.0 dedicated in group 0, wq1.1 shared (PRS off, threshold 8)
# in group 1; a 128-entry event log (tests.sh leaves 256).
cat >/tmp/two-groups.conf <<EOF
[
  {
    "dev":"dsa1",
    "event_log_size":128,
    "groups":[
      {
        "dev":"group1.0",
        "grouped_workqueues":[
          { "dev":"wq1.0", "mode":"dedicated", "size":16, "group_id":0, "priority":10,
            "block_on_fault":0, "type":"user", "driver_name":"user", "name":"app0" }
        ],
        "grouped_engines":[
          { "dev":"engine1.0", "group_id":0 }, { "dev":"engine1.1", "group_id":0 }
        ]
      },
      {
        "dev":"group1.1",
        "grouped_workqueues":[
          { "dev":"wq1.1", "mode":"shared", "size":32, "group_id":1, "priority":5,
            "block_on_fault":0, "prs_disable":1, "threshold":8, "type":"user",
            "driver_name":"user", "name":"app1" }
        ],
        "grouped_engines":[
          { "dev":"engine1.2", "group_id":1 }, { "dev":"engine1.3", "group_id":1 }
        ]
      }
    ]
  }
]
EOF
tap_check "accel-config disable-device dsa1" show_out accfg disable-device dsa1
tap_check "dsa1 unbound, its WQs disabled" sh -c \
	"[ ! -e $D/dsa1/driver ] && [ \$(cat $D/wq1.1/state) = disabled ]"
tap_check "accel-config load-config -e: two groups, a dedicated and a shared WQ" \
	show_out accfg load-config -c /tmp/two-groups.conf -e
tap_check "loaded: dsa1 enabled with a 128-entry event log" sh -c \
	"[ \$(cat $D/dsa1/state) = enabled ] && [ \$(cat $D/dsa1/event_log_size) = 128 ]"
tap_check "loaded: wq1.1 shared in group 1, PRS off, threshold 8, enabled" sh -c \
	"[ \$(cat $D/wq1.1/group_id) = 1 ] && [ \$(cat $D/wq1.1/prs_disable) = 1 ] &&
	 [ \$(cat $D/wq1.1/threshold) = 8 ] && [ \$(cat $D/wq1.1/state) = enabled ] && [ -c /dev/dsa/wq1.1 ]"
tap_check "loaded: group1.1 holds engine1.2 and engine1.3" sh -c \
	"[ \"\$(cat $D/group1.1/engines)\" = 'engine1.2 engine1.3' ]"
saved_matches() {
	accfg save-config -s /tmp/saved.conf >/dev/null 2>&1 &&
		grep -q '"event_log_size":128' /tmp/saved.conf && grep -q '"threshold":8' /tmp/saved.conf &&
		grep -q '"name":"app1"' /tmp/saved.conf && grep -q '"size":32' /tmp/saved.conf &&
		grep -q '"prs_disable":1' /tmp/saved.conf && return 0
	sed 's/^/# /' /tmp/saved.conf
	return 1
}
tap_check "accel-config save-config writes the loaded configuration back" saved_matches
# refused ATTR-FILE WANT CMD...: accel-config CMD fails and ATTR-FILE still reads WANT (or is
# absent, for WANT "absent").
accfg_refused() {
	f=$1 want=$2
	shift 2
	accfg "$@" >/dev/null 2>&1 && return 1
	if [ "$want" = absent ]; then [ ! -e "$f" ]; else [ "$(cat "$f")" = "$want" ]; fi
}
tap_check "refused: prs_disable on an enabled WQ" \
	accfg_refused $D/wq1.1/prs_disable 1 config-wq dsa1/wq1.1 --prs-disable=0
tap_check "refused: event_log_size on an enabled device" \
	accfg_refused $D/dsa1/event_log_size 128 config-device dsa1 --event-log-size=512
tap_check "accel-config disable-wq dsa1/wq1.1" show_out accfg disable-wq dsa1/wq1.1
# As under idxd (idxd_wq_disable_cleanup()), the disabled WQ kept its size and group only.
tap_check "disabled wq1.1: shared, priority 0, threshold 0, PRS on, no name; size and group kept" sh -c \
	"[ \"\$(cat $D/wq1.1/mode) \$(cat $D/wq1.1/priority) \$(cat $D/wq1.1/threshold) \$(cat $D/wq1.1/prs_disable) [\$(cat $D/wq1.1/name)] \$(cat $D/wq1.1/size) \$(cat $D/wq1.1/group_id)\" = 'shared 0 0 0 [] 32 1' ]"
tap_check "accel-config config-wq dsa1/wq1.1 as loaded again" show_out accfg config-wq dsa1/wq1.1 \
	--priority=5 --prs-disable=1 --threshold=8 --type=user --name=app1
tap_check "refused: a WQ larger than the device" \
	accfg_refused $D/wq1.1/size 32 config-wq dsa1/wq1.1 --wq-size=129
tap_check "refused: threshold 0 on a shared WQ" \
	accfg_refused $D/wq1.1/threshold 8 config-wq dsa1/wq1.1 --threshold=0
tap_check "accel-config enable-wq dsa1/wq1.1" show_out accfg enable-wq dsa1/wq1.1
# A disabled device has forgotten its configuration, as under idxd: enable-device is refused
# (cmd_status IDXD_SCMD_WQ_NONE_CONFIGURED) until a configuration is loaded again.
cycled() {
	show_out accfg disable-device dsa1 && [ "$(cat $D/dsa1/state)" = disabled ] &&
		[ "$(cat $D/wq1.1/size)" = 0 ] && ! accfg enable-device dsa1 >/dev/null 2>&1 &&
		[ "$(cat $D/dsa1/cmd_status)" = 0x800d0000 ] &&
		show_out accfg load-config -c /tmp/two-groups.conf -e &&
		[ "$(cat $D/dsa1/state)" = enabled ] && [ "$(cat $D/wq1.1/state)" = enabled ] &&
		[ -c /dev/dsa/wq1.0 ] && [ -c /dev/dsa/wq1.1 ]
}
tap_check "accel-config disable-device forgets the configuration; enable-device refused; load-config -e" cycled
tap_check "refused: PRS settings on DSA 1.0 (dsa0)" \
	accfg_refused $D/wq0.2/prs_disable absent config-wq dsa0/wq0.2 --prs-disable=1
# accel-config writes read_buffer_limit, and traffic classes on DSA 2.0, from a saved
# configuration; without GRPCAP.rdbuf_limit (the model has none) and on DSA 1.0/2.0 both idxd
# and ridxd refuse them (EPERM), so they are taken out before it is loaded again.
restored() {
	grep -v -e '"read_buffer_limit"' -e '"traffic_class_[ab]"' /tmp/default.conf >/tmp/default-load.conf
	show_out accfg disable-device dsa1 && show_out accfg load-config -c /tmp/default-load.conf -e &&
		[ "$(cat $D/wq1.1/threshold)" = 16 ] && [ "$(cat $D/wq1.1/state)" = enabled ] &&
		[ "$(cat $D/wq1.0/state)" = enabled ] && [ "$(cat $D/engine1.3/group_id)" = 0 ] &&
		[ "$(cat $D/dsa1/event_log_size)" = "$evl0" ]
}
tap_check "accel-config disable-device, load-config -e of the saved default" restored

# accel-config's dsa_test on the shared user WQ wq1.1 of dsa1 (DSA 2.0; -d DEV/WQ first for
# another): -w 1 submits with
# write() in 4.1.9 (TCG has no ENQCMD), every opcode the model implements, alone and in
# batches, with PRS on and then off.
dsatest_shared() {
	wq=dsa1/wq1.1
	[ "$1" = -d ] && wq=$2 && shift 2
	out=$(dsa_test -w 1 -d "$wq" -t 5000 "$@" 2>&1 </dev/null) && return 0
	echo "$out" | tail -n 8 | sed 's/^/# /'
	return 1
}
# The debug kernel (lockdep, KASAN, kmemleak) runs the memmove cases only: the whole matrix
# takes it about four minutes, and its guest has ten in all.
ops="0x0 0x3 0x4 0x5 0x6" lens="4096 65536"
[ "$RIDXD_VARIANT" = debug ] && ops=0x3 lens=4096
for op in $ops; do
	for len in $lens; do
		[ $op = 0x0 ] && [ $len != 4096 ] && continue
		tap_check "dsa1: dsa_test -w 1 -o $op -l $len" dsatest_shared -o $op -l $len
	done
done
tap_check "dsa1: dsa_test -w 1 drain -o 0x2" dsatest_shared -o 0x2 -l 4096
# The same through dsa0 (DSA 1.0: no event log, no PRS setting) and its shared WQ wq0.1.
for op in $ops; do
	tap_check "dsa0 (DSA 1.0): dsa_test -w 1 -o $op -l 4096" \
		dsatest_shared -d dsa0/wq0.1 -o $op -l 4096
done
# A batch through write() on DSA 1.0 is refused (EINVAL; INTEL-SA-01084: the driver cannot
# check what a batch points to), as idxd refuses it: dsa_test's three write() tries fail and
# the test fails (kselftest batch_refused_on_dsa1 checks the errno).
batch_refused_dsa0() {
	out=$(dsa_test -w 1 -d dsa0/wq0.1 -t 500 -o 0x1 -b 0x3 -c 16 -l 4096 2>&1 </dev/null) && {
		echo "# dsa_test passed"
		return 1
	}
	tries=$(echo "$out" | grep -c 'Submitting descriptor via syscall write')
	retries=$(echo "$out" | grep -c '^\[ info\] retry')
	echo "# write() tries $tries, retries $retries"
	[ "$tries" = 3 ] && [ "$retries" = 3 ]
}
tap_check "dsa0 (DSA 1.0): dsa_test -w 1 batch: its write() refused 3 times, the test fails" \
	batch_refused_dsa0
for op in $ops; do
	tap_check "dsa1: dsa_test -w 1 batch -o 0x1 -b $op -c 16 -l 4096" \
		dsatest_shared -o 0x1 -b $op -c 16 -l 4096
done
# rebind_wq11 PRS: wq1.1 (the default configuration's shared WQ) unbound, given prs_disable PRS
# and again what the unbind reset (threshold, priority, name), bound.
rebind_wq11() {
	echo wq1.1 > $D/wq1.1/driver/unbind && echo 16 > $D/wq1.1/threshold &&
		echo 1 > $D/wq1.1/priority && echo ridxd > $D/wq1.1/name &&
		echo "$1" > $D/wq1.1/prs_disable && echo wq1.1 > /sys/bus/dsa/drivers/user/bind &&
		[ "$(cat $D/wq1.1/prs_disable)" = "$1" ]
}
tap_check "dsa1: wq1.1 PRS off (unbind, prs_disable 1, bind)" rebind_wq11 1
tap_check "dsa1: wq1.1 file<N>/cr_faults read at dsa_test -w 1's close: 9, one per event-log entry of its batch of 8 CR faults" \
	cr_faults_at_close dsa1 wq1.1 /sys/kernel/debug/ridxd/dsa1/event_log 9 \
	-w 1 -o 1 -b 3 -f 0x8 -c 8 -e "$CR_FAULTS_8"
tap_check "dsa1: wq1.1 PRS on again" rebind_wq11 0
