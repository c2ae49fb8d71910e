# SPDX-License-Identifier: GPL-2.0
# In-guest tests run by "ridxd-dev test" in the normal and the debug guest kernel.
#
# TAP as tap.sh sets it up, with the plan line counted and printed at the end.
. /ridxd/tap.sh

dmesg_has() { dmesg | grep -q "$1"; }
not_loaded() { ! grep -q '^ridxd ' /proc/modules; }
loaded() { grep -q '^ridxd ' /proc/modules; }
pci_driver_registered() { [ -d /sys/bus/pci/drivers/ridxd ]; }
scalable_mode() { dmesg | grep -q 'DMAR: Intel(R) Virtualization Technology for Directed I/O' &&
	[ -e /sys/kernel/debug/iommu/intel/dmar_translation_struct ]; }
faux_dev() { [ -e "/sys/bus/faux/devices/$1" ]; }
no_faux_dev() { ! faux_dev "$1"; }

ktap_print_header
tap_check "intel-iommu is up" scalable_mode
tap_check "insmod ridxd" insmod /lib/modules/ridxd.ko
tap_check "ridxd is loaded" loaded
tap_check "load message in dmesg" dmesg_has "ridxd: Intel DSA driver (Rust)"
tap_check "PCI driver registered" pci_driver_registered
tap_check "rmmod ridxd" rmmod ridxd
tap_check "ridxd is gone" not_loaded
tap_check "unload message in dmesg" dmesg_has "ridxd: unloaded"
# Model devices: one DSA 1.0 and one DSA 2.0, probed through the same path as PCI devices,
# whose interrupts arrive 1 ms late (nothing bounds when hardware's do; the driver must not
# depend on them arriving before a command's completion is seen).
tap_check "insmod ridxd sim_dsa1=1 sim_dsa2=1 sim_irq_delay_ms=1" \
	insmod /lib/modules/ridxd.ko sim_dsa1=1 sim_dsa2=1 sim_irq_delay_ms=1
tap_check "faux device ridxd_sim0" faux_dev ridxd_sim0
tap_check "ridxd_sim0 probed as DSA 1.0 without event log" \
	dmesg_has "ridxd_sim0: DSA 1.0: 8 WQs (128 entries), 4 engines, 4 groups, event log: no, PRS disable: no"
tap_check "ridxd_sim1 probed as DSA 2.0 with event log" \
	dmesg_has "ridxd_sim1: DSA 2.0: 8 WQs (128 entries), 4 engines, 4 groups, event log: yes, PRS disable: yes"
tap_check "ridxd_sim0 enabled with the default configuration" \
	dmesg_has "ridxd_sim0: enabled: default configuration, event log 0"
tap_check "ridxd_sim1 enabled with a 64-entry event log" \
	dmesg_has "ridxd_sim1: enabled: default configuration, event log 64"
# The admin interface (debugfs, idxd attribute names).
A=/sys/kernel/debug/ridxd
reads() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
writes() { echo "$2" > "$1" 2>/dev/null; }
refused() { ! echo "$2" > "$1" 2>/dev/null; }
absent() { [ ! -e "$1" ]; }
tap_check "dsa1 is the DSA 2.0 model" reads $A/dsa1/device ridxd_sim1
tap_check "ridxd_sim1's interrupts are 1 ms late" reads $A/ridxd_sim1/irq_delay_ms 1
tap_check "dsa1 state enabled" reads $A/dsa1/state enabled
tap_check "dsa1 event_log_size 64" reads $A/dsa1/event_log_size 64
tap_check "dsa0 (DSA 1.0) has no event_log_size" absent $A/dsa0/event_log_size
tap_check "dsa0 (DSA 1.0) has no wq0/prs_disable" absent $A/dsa0/wq0/prs_disable
tap_check "event_log_size refused while enabled" refused $A/dsa1/event_log_size 128
tap_check "prs_disable refused on an enabled WQ" refused $A/dsa1/wq0/prs_disable 1
tap_check "char devices of dsa1's enabled WQs" sh -c "[ -c /dev/dsa/wq1.0 ] && [ -c /dev/dsa/wq1.1 ]"
tap_check "disable dsa1" writes $A/dsa1/enable 0
tap_check "dsa1 state disabled" reads $A/dsa1/state disabled
tap_check "no char devices while dsa1 is disabled" sh -c "[ ! -e /dev/dsa/wq1.0 ] && [ ! -e /dev/dsa/wq1.1 ]"
tap_check "event_log_size 63 refused" refused $A/dsa1/event_log_size 63
tap_check "event_log_size 65536 refused" refused $A/dsa1/event_log_size 65536
tap_check "event_log_size unchanged after refusals" reads $A/dsa1/event_log_size 64
tap_check "event_log_size 256" writes $A/dsa1/event_log_size 256
tap_check "prs_disable on a disabled WQ" writes $A/dsa1/wq0/prs_disable 1
tap_check "enable dsa1 and wq0" sh -c "echo 1 > $A/dsa1/enable && echo 1 > $A/dsa1/wq0/enable"
tap_check "wq0 enabled with prs_disable" sh -c "[ \$(cat $A/dsa1/wq0/state) = enabled ] && [ \$(cat $A/dsa1/wq0/prs_disable) = 1 ]"
tap_check "char device of wq0 only" sh -c "[ -c /dev/dsa/wq1.0 ] && [ ! -e /dev/dsa/wq1.1 ]"
tap_check "event log of 256 entries, empty" sh -c "head -n1 $A/dsa1/event_log | grep -qx 'head 0 tail 0 int_pending 0 size 256'"
tap_check "bad input refused" refused $A/dsa1/wq1/size lots
tap_check "engines in group 0" sh -c "for e in 0 1 2 3; do [ \$(cat $A/dsa1/engine\$e/group_id) = 0 ] || exit 1; done"
tap_check "threshold refused on a dedicated WQ" sh -c "echo 0 > $A/dsa1/wq0/enable && ! echo 4 > $A/dsa1/wq0/threshold 2>/dev/null && echo 1 > $A/dsa1/wq0/enable"
tap_check "max_transfer_size 3000 refused (not a power of two)" sh -c "echo 0 > $A/dsa1/wq0/enable && ! echo 3000 > $A/dsa1/wq0/max_transfer_size 2>/dev/null && [ \$(cat $A/dsa1/wq0/max_transfer_size) = 2097152 ] && echo 1 > $A/dsa1/wq0/enable"
echo "# $(head -n1 $A/dsa1/event_log)"
# The user WQ character devices: the kselftest program (its TAP indented under this one).
run_selftest() {
	"/ridxd/selftests/$1" > /tmp/$1.out 2>&1
	rc=$?
	sed 's/^/    /' /tmp/$1.out
	return $rc
}
# The debug kernel (lockdep, KASAN, kmemleak) runs 2,000 open/close cycles, not 10,000.
[ "$RIDXD_VARIANT" = debug ] && export RIDXD_CYCLES=2000
tap_check "kselftest ridxd_wq_test (DSA 2.0)" run_selftest ridxd_wq_test
tap_check "kselftest ridxd_wq_test (DSA 1.0)" env RIDXD_DEV=0 sh -c '"/ridxd/selftests/ridxd_wq_test" > /tmp/dsa1.out 2>&1; rc=$?; sed "s/^/    /" /tmp/dsa1.out; exit $rc'
# An open file keeps the module: rmmod is refused until it is closed.
rmmod_refused_while_open() {
	exec 3<> /dev/dsa/wq1.1 || return 1
	if rmmod ridxd 2>/dev/null; then exec 3>&-; return 1; fi
	exec 3>&-
	return 0
}
tap_check "rmmod refused while a WQ file is open" rmmod_refused_while_open
tap_check "rmmod ridxd with model devices" rmmod ridxd
tap_check "faux devices removed" no_faux_dev ridxd_sim0
tap_check "faux device ridxd_sim1 removed" no_faux_dev ridxd_sim1
tap_check "admin directory removed" absent $A
# The plan, counted (TAP allows it after the test points); exit 0 only if all of them passed.
ktap_set_plan "$((KTAP_TESTNO - 1))"
ktap_finished
