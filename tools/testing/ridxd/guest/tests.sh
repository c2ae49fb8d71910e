# SPDX-License-Identifier: GPL-2.0
# In-guest tests run by "ridxd-dev test" in the normal and the debug guest kernel.
#
# TAP as tap.sh sets it up, with the plan line counted and printed at the end.
. /ridxd/tap.sh

dmesg_has() { dmesg | grep -q "$1"; }
not_loaded() { ! grep -q "^$RIDXD_MOD " /proc/modules; }
loaded() { grep -q "^$RIDXD_MOD " /proc/modules; }
pci_driver_registered() { [ -d "/sys/bus/pci/drivers/$RIDXD_MOD" ]; }
scalable_mode() { dmesg | grep -q 'DMAR: Intel(R) Virtualization Technology for Directed I/O' &&
	[ -e /sys/kernel/debug/iommu/intel/dmar_translation_struct ]; }
faux_dev() { [ -e "/sys/bus/faux/devices/$1" ]; }
no_faux_dev() { ! faux_dev "$1"; }

ktap_print_header
tap_check "intel-iommu is up" scalable_mode
tap_check "insmod $RIDXD_MOD" insmod "$RIDXD_KO"
tap_check "$RIDXD_MOD is loaded" loaded
tap_check "load message in dmesg" dmesg_has "$RIDXD_MOD: Intel DSA driver (Rust)"
tap_check "PCI driver registered" pci_driver_registered
tap_check "rmmod $RIDXD_MOD" rmmod "$RIDXD_MOD"
tap_check "$RIDXD_MOD is gone" not_loaded
tap_check "unload message in dmesg" dmesg_has "$RIDXD_MOD: unloaded"
# Model devices: one DSA 1.0 and one DSA 2.0, probed through the same path as PCI devices,
# whose interrupts arrive 1 ms late (nothing bounds when hardware's do; the driver must not
# depend on them arriving before a command's completion is seen).
tap_check "insmod $RIDXD_MOD sim_dsa1=1 sim_dsa2=1 sim_irq_delay_ms=1" \
	insmod "$RIDXD_KO" sim_dsa1=1 sim_dsa2=1 sim_irq_delay_ms=1
tap_check "faux device ridxd_sim0" faux_dev ridxd_sim0
tap_check "ridxd_sim0 probed as DSA 1.0 without event log" \
	dmesg_has "ridxd_sim0: DSA 1.0: 8 WQs (128 entries), 4 engines, 4 groups, event log: no, PRS disable: no"
tap_check "ridxd_sim1 probed as DSA 2.0 with event log" \
	dmesg_has "ridxd_sim1: DSA 2.0: 8 WQs (128 entries), 4 engines, 4 groups, event log: yes, PRS disable: yes"
tap_check "ridxd_sim0 enabled with the default configuration" \
	dmesg_has "ridxd_sim0: enabled: default configuration, event log 0"
tap_check "ridxd_sim1 enabled with a 64-entry event log" \
	dmesg_has "ridxd_sim1: enabled: default configuration, event log 64"
# The idxd sysfs ABI on the dsa bus (what accel-config uses); debugfs for what it has not.
A=/sys/kernel/debug/ridxd
B=/sys/bus/dsa
D=$B/devices
reads() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
writes() { echo "$2" > "$1" 2>/dev/null; }
refused() { ! echo "$2" > "$1" 2>/dev/null; }
absent() { [ ! -e "$1" ]; }
bound_to() { [ "$(basename "$(readlink "$1/driver")")" = "$2" ]; }
# forgot_dsa1: a disabled dsa1 has forgotten its configuration, as idxd's devices do
# (idxd_device_clear_state()): WQs unconfigured and nameless (driver_name stays), no engine in
# a group; the event-log size stays.
forgot_dsa1() {
	[ "$(cat $D/wq1.0/size)" = 0 ] && [ "$(cat $D/wq1.1/size)" = 0 ] &&
		[ "$(cat $D/wq1.0/group_id)" = -1 ] && [ "$(cat $D/engine1.0/group_id)" = -1 ] &&
		[ -z "$(cat $D/wq1.0/name)" ] && [ "$(cat $D/wq1.0/driver_name)" = user ] &&
		[ "$(cat $D/wq1.0/mode)" = shared ] && [ "$(cat $D/wq1.1/type)" = none ] &&
		[ "$(cat $D/dsa1/event_log_size)" = "$1" ]
}
# dsa1_default: the default configuration (config.rs, set_default) again, by hand.
dsa1_default() {
	for e in 0 1 2 3; do echo 0 > $D/engine1.$e/group_id || return 1; done
	echo dedicated > $D/wq1.0/mode && echo 16 > $D/wq1.0/size && echo 1 > $D/wq1.0/priority &&
		echo 0 > $D/wq1.0/group_id && echo user > $D/wq1.0/driver_name &&
		echo ridxd > $D/wq1.0/name && echo shared > $D/wq1.1/mode && echo 16 > $D/wq1.1/size &&
		echo 1 > $D/wq1.1/priority && echo 16 > $D/wq1.1/threshold &&
		echo 0 > $D/wq1.1/group_id && echo user > $D/wq1.1/driver_name && echo ridxd > $D/wq1.1/name
}
tap_check "dsa bus with drivers idxd and user" sh -c "[ -d $B/drivers/idxd ] && [ -d $B/drivers/user ]"
tap_check "dsa1 is the DSA 2.0 model" reads $A/dsa1/device ridxd_sim1
tap_check "dsa1 is below ridxd_sim1" sh -c "[ \$(basename \$(dirname \$(readlink -f $D/dsa1))) = ridxd_sim1 ]"
tap_check "dsa1's groups, WQs and engines are its children" sh -c "[ -e $D/dsa1/wq1.0 ] && [ -e $D/dsa1/group1.0 ] && [ -e $D/dsa1/engine1.3 ]"
tap_check "ridxd_sim1's interrupts are 1 ms late" reads $A/ridxd_sim1/irq_delay_ms 1
tap_check "dsa1 version 0x200" reads $D/dsa1/version 0x200
tap_check "dsa1 state enabled" reads $D/dsa1/state enabled
tap_check "dsa1 bound to idxd" bound_to $D/dsa1 idxd
tap_check "wq1.0 and wq1.1 bound to user" sh -c "[ \$(basename \$(readlink $D/wq1.0/driver)) = user ] && [ \$(basename \$(readlink $D/wq1.1/driver)) = user ]"
tap_check "wq1.1 shared, type user, driver_name user" sh -c "[ \$(cat $D/wq1.1/mode) = shared ] && [ \$(cat $D/wq1.1/type) = user ] && [ \$(cat $D/wq1.1/driver_name) = user ]"
tap_check "group1.0 holds the engines and WQs 0 and 1" sh -c "[ \"\$(cat $D/group1.0/engines)\" = 'engine1.0 engine1.1 engine1.2 engine1.3' ] && [ \"\$(cat $D/group1.0/work_queues)\" = 'wq1.0 wq1.1' ]"
tap_check "dsa1 event_log_size 64" reads $D/dsa1/event_log_size 64
tap_check "dsa0 (DSA 1.0) has no event_log_size" absent $D/dsa0/event_log_size
tap_check "dsa0 (DSA 1.0) has no wq0.0/prs_disable" absent $D/wq0.0/prs_disable
tap_check "event_log_size refused while enabled" refused $D/dsa1/event_log_size 128
tap_check "prs_disable refused on an enabled WQ" refused $D/wq1.0/prs_disable 1
tap_check "char devices of dsa1's enabled WQs" sh -c "[ -c /dev/dsa/wq1.0 ] && [ -c /dev/dsa/wq1.1 ]"
tap_check "wq1.0 char device node on the bus, with its minor" sh -c "[ -d $D/wq1.0/dsa!wq1.0 ] && [ \$(cat $D/wq1.0/cdev_minor) = \$(cat /sys/class/misc/dsa!wq1.0/dev | cut -d: -f2) ]"
tap_check "disable dsa1 (unbind idxd)" writes $D/dsa1/driver/unbind dsa1
tap_check "dsa1 state disabled" reads $D/dsa1/state disabled
tap_check "dsa1's WQs unbound and disabled" sh -c "[ ! -e $D/wq1.0/driver ] && [ \$(cat $D/wq1.0/state) = disabled ] && [ \$(cat $D/wq1.1/state) = disabled ]"
tap_check "no char devices while dsa1 is disabled" sh -c "[ ! -e /dev/dsa/wq1.0 ] && [ ! -e /dev/dsa/wq1.1 ]"
tap_check "a WQ does not bind on a disabled device" refused $B/drivers/user/bind wq1.0
tap_check "event_log_size 63 refused" refused $D/dsa1/event_log_size 63
tap_check "event_log_size 65536 refused" refused $D/dsa1/event_log_size 65536
tap_check "event_log_size unchanged after refusals" reads $D/dsa1/event_log_size 64
tap_check "event_log_size 256" writes $D/dsa1/event_log_size 256
tap_check "dsa1 forgot its configuration, as idxd's devices do" forgot_dsa1 256
tap_check "dsa1 given the default configuration again by hand" dsa1_default
tap_check "prs_disable on a disabled WQ" writes $D/wq1.0/prs_disable 1
tap_check "wq1.2 configured as a shared user WQ (no threshold)" sh -c "echo 8 > $D/wq1.2/size && echo 0 > $D/wq1.2/group_id && echo shared > $D/wq1.2/mode && echo user > $D/wq1.2/driver_name && echo app > $D/wq1.2/name"
tap_check "enable dsa1 and wq1.0 (bind idxd, user)" sh -c "echo dsa1 > $B/drivers/idxd/bind && echo wq1.0 > $B/drivers/user/bind"
tap_check "wq1.0 enabled with prs_disable" sh -c "[ \$(cat $D/wq1.0/state) = enabled ] && [ \$(cat $D/wq1.0/prs_disable) = 1 ]"
tap_check "char device of wq1.0 only" sh -c "[ -c /dev/dsa/wq1.0 ] && [ ! -e /dev/dsa/wq1.1 ]"
tap_check "event log of 256 entries, empty" sh -c "head -n1 $A/dsa1/event_log | grep -qx 'head 0 tail 0 int_pending 0 size 256'"
tap_check "bad input refused" refused $D/wq1.1/size lots
tap_check "engines in group 0" sh -c "for e in 0 1 2 3; do [ \$(cat $D/engine1.\$e/group_id) = 0 ] || exit 1; done"
# wq1_0_unbound CMD: wq1.0 unbound, which resets its attributes but size and group (as idxd's
# idxd_wq_disable_cleanup()), given dsa1_default's settings again (and PRS off), CMD run, bound.
wq1_0_unbound() {
	echo wq1.0 > $D/wq1.0/driver/unbind || return 1
	echo "# after unbind: $(cat $D/wq1.0/mode) priority $(cat $D/wq1.0/priority) prs_disable $(cat $D/wq1.0/prs_disable) name [$(cat $D/wq1.0/name)] size $(cat $D/wq1.0/size)"
	[ "$(cat $D/wq1.0/mode) $(cat $D/wq1.0/priority) $(cat $D/wq1.0/prs_disable) [$(cat $D/wq1.0/name)] $(cat $D/wq1.0/size)" = "shared 0 0 [] 16" ] || return 1
	echo dedicated > $D/wq1.0/mode && echo 1 > $D/wq1.0/priority && echo ridxd > $D/wq1.0/name &&
		echo 1 > $D/wq1.0/prs_disable && sh -c "$1" && echo wq1.0 > $B/drivers/user/bind
}
tap_check "threshold refused on a dedicated WQ" wq1_0_unbound "! echo 4 > $D/wq1.0/threshold 2>/dev/null"
tap_check "max_transfer_size 3000 refused (not a power of two)" wq1_0_unbound "! echo 3000 > $D/wq1.0/max_transfer_size 2>/dev/null && [ \$(cat $D/wq1.0/max_transfer_size) = 2097152 ]"
tap_check "a shared WQ without threshold does not bind (cmd_status WQ_NO_THRESH)" sh -c "! echo wq1.2 > $B/drivers/user/bind 2>/dev/null && [ \$(cat $D/dsa1/cmd_status) = 0x80060000 ]"
tap_check "it binds with threshold 8, and unbinds" sh -c "echo 8 > $D/wq1.2/threshold && echo wq1.2 > $B/drivers/user/bind && [ \$(cat $D/wq1.2/state) = enabled ] && [ \$(cat $D/dsa1/cmd_status) = 0x0 ] && echo wq1.2 > $D/wq1.2/driver/unbind"
tap_check "a WQ's size does not change while the device is enabled" sh -c "! echo 4 > $D/wq1.2/size 2>/dev/null && [ \$(cat $D/wq1.2/size) = 8 ]"
# unbound_and_rebound: dsa1 disabled (wq1.2 forgotten with the rest), configured as by default
# (wq1.0 with PRS off, as before), enabled, wq1.0 bound.
unbound_and_rebound() {
	echo dsa1 > $D/dsa1/driver/unbind && forgot_dsa1 256 && [ "$(cat $D/wq1.2/size)" = 0 ] &&
		dsa1_default && echo 1 > $D/wq1.0/prs_disable && echo dsa1 > $B/drivers/idxd/bind &&
		echo wq1.0 > $B/drivers/user/bind
}
tap_check "wq1.2 unconfigured again (device unbound, configured, bound)" unbound_and_rebound
tap_check "a WQ whose driver_name is not user does not bind" sh -c "echo dmaengine > $D/wq1.1/driver_name && ! echo wq1.1 > $B/drivers/user/bind 2>/dev/null && echo user > $D/wq1.1/driver_name && echo wq1.1 > $B/drivers/user/bind"
echo "# $(head -n1 $A/dsa1/event_log)"
# accel-config (unmodified) through the same ABI, when the guest has it (ridxd-dev test builds
# it; see accfg-ridxd.sh).
if command -v accel-config >/dev/null; then
	. /ridxd/accfg-ridxd.sh
else
	ktap_test_skip "accel-config checks: no accel-config in this guest"
fi
# Model devices added and removed at run time, netdevsim-style (debugfs new_device and
# del_device): on the dsa bus, and to accel-config, as any device.
last_sim() { awk 'END { print $1 }' $A/sim_devices; }
tap_check "new_device: a DSA 1.0 model device, left disabled" writes $A/new_device "1 0"
N=$(last_sim)
echo "# new_device made $N; sim_devices: $(tr '\n' ';' < $A/sim_devices)"
tap_check "sim_devices lists it as DSA 1.0" sh -c "grep -qx '$N ridxd_sim${N#dsa} 1.0' $A/sim_devices"
tap_check "$N on the dsa bus, disabled, below faux device ridxd_sim${N#dsa}" sh -c "[ \$(cat $D/$N/state) = disabled ] && [ \$(cat $D/$N/version) = 0x100 ] && [ \$(basename \$(dirname \$(readlink -f $D/$N))) = ridxd_sim${N#dsa} ]"
if command -v accel-config >/dev/null; then
	tap_check "accel-config list -i shows $N" sh -c "/ridxd/accfg.sh list -i | grep -q '\"dev\":\"$N\"'"
else
	ktap_test_skip "accel-config list -i shows $N: no accel-config in this guest"
fi
tap_check "new_device 3 refused, nothing made" sh -c "! echo 3 > $A/new_device 2>/dev/null && [ \$(awk 'END { print \$1 }' $A/sim_devices) = $N ]"
tap_check "del_device of dsa1's WQ name refused" refused $A/del_device wq1.0
tap_check "del_device $N" writes $A/del_device "$N"
tap_check "$N gone: bus node, faux device, admin directory" sh -c "[ ! -e $D/$N ] && [ ! -e /sys/bus/faux/devices/ridxd_sim${N#dsa} ] && [ ! -e $A/$N ] && ! grep -q '^$N ' $A/sim_devices"
tap_check "del_device $N again: no such model device" refused $A/del_device "$N"
tap_check "dsa0 and dsa1 untouched" sh -c "[ \$(cat $D/dsa0/state) = enabled ] && [ \$(cat $D/dsa1/state) = enabled ]"
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
	if rmmod "$RIDXD_MOD" 2>/dev/null; then exec 3>&-; return 1; fi
	exec 3>&-
	return 0
}
tap_check "rmmod refused while a WQ file is open" rmmod_refused_while_open
tap_check "rmmod $RIDXD_MOD with model devices" rmmod "$RIDXD_MOD"
tap_check "faux devices removed" no_faux_dev ridxd_sim0
tap_check "faux device ridxd_sim1 removed" no_faux_dev ridxd_sim1
tap_check "debugfs directory removed" absent $A
tap_check "dsa bus removed" absent $B
# The plan, counted (TAP allows it after the test points); exit 0 only if all of them passed.
ktap_set_plan "$((KTAP_TESTNO - 1))"
ktap_finished
