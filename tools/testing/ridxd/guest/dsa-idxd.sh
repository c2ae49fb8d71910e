# SPDX-License-Identifier: GPL-2.0
# Checks the project's QEMU intel-dsa devices with a driver we did not write: the C idxd driver
# of the same kernel tree, driven by accel-config 4.1.9 and its dsa_test.  Run by
# "ridxd-dev dsa-vm" in a guest with two devices: dsa0 = intel-dsa,version=2.0 and
# dsa1 = intel-dsa,version=1.0 (tools/testing/ridxd/qemu/dsa-vm.sh).  TAP through
# tap.sh, as tests.sh.
#
# The same checks then run with ridxd instead (dsa-ridxd.sh sets DSA_DRIVER=ridxd and sources
# this file): what differs between the two runs is which modules are loaded, where the CLI of
# accel-config runs (accfg.sh: it wants a /sys/module/idxd), the debugfs event-log file, and
# the one message idxd prints about ENQCMD.
. /ridxd/tap.sh
. /ridxd/files.sh
DRV=${DSA_DRIVER:-idxd}
case $DRV in
idxd)
	accfg() { accel-config "$@"; }
	EVL_FILE=/sys/kernel/debug/idxd/dsa0/event_log
	;;
ridxd)
	accfg() { /ridxd/accfg.sh "$@"; }
	EVL_FILE=/sys/kernel/debug/ridxd/dsa0/event_log
	;;
*) echo "DSA_DRIVER: idxd or ridxd, not $DRV" >&2; exit 1 ;;
esac

D=/sys/bus/dsa/devices
reads() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

dsa_pci_count() {
	n=0
	for p in /sys/bus/pci/devices/*; do
		[ "$(cat "$p/vendor")" = 0x8086 ] && [ "$(cat "$p/device")" = 0x0b25 ] && n=$((n + 1))
	done
	[ "$n" = 2 ]
}

# Kernel messages of level warning or worse (raw levels 0-4) logged after the mark $1 (a line
# written to /dev/kmsg), except the one idxd prints at load on a CPU without ENQCMD (TCG has
# none: see Documentation/driver-api/ridxd-qemu-dsa.rst).
kmark() { echo "dsa-$DRV: mark $1" >/dev/kmsg; }
new_warnings() {
	dmesg -r | sed -n "/dsa-$DRV: mark $1\$/,\$p" | grep -E '^<[0-4]>' |
		grep -v 'Platform does not have ENQCMD(S) support'
}
# no_new_warnings MARK [LINE]: none after MARK but LINE (a fixed string), if given.
no_new_warnings() {
	w=$(new_warnings "$1" | grep -vF "${2:-^no such line^}")
	[ -z "$w" ] && return 0
	echo "$w" | sed 's/^/# /'
	return 1
}

ktap_print_header
tap_check "two intel-dsa PCI devices (8086:0b25)" dsa_pci_count
tap_check "the CPU has MOVDIR64B" grep -qw movdir64b /proc/cpuinfo
kmark probe
if [ "$DRV" = idxd ]; then
	tap_check "insmod idxd_bus" insmod /lib/modules/idxd_bus.ko
	tap_check "insmod idxd" insmod /lib/modules/idxd.ko
else
	tap_check "insmod ridxd" insmod "$RIDXD_KO"
fi
sleep 1
tap_check "dsa0 probed" test -d $D/dsa0
tap_check "dsa1 probed" test -d $D/dsa1
# A configurable device with no configuration is left disabled at probe, for accel-config.
tap_check "dsa0 is disabled after probe" reads $D/dsa0/state disabled
tap_check "dsa1 is disabled after probe" reads $D/dsa1/state disabled
tap_check "dsa0 is DSA 2.0" reads $D/dsa0/version 0x200
tap_check "dsa1 is DSA 1.0" reads $D/dsa1/version 0x100
tap_check "no $DRV error or warning at probe" no_new_warnings probe
# The PCI function's DMA masks, streaming and coherent: 64 bits, as idxd_pci_probe() sets them
# (a PCI device starts with 32).
dma_masks_64() {
	for m in dma_mask_bits consistent_dma_mask_bits; do
		v=$(cat "$D/$1/../$m")
		echo "# $1: $m $v"
		[ "$v" = 64 ] || return 1
	done
}
tap_check "dsa0: 64-bit DMA masks" dma_masks_64 dsa0
tap_check "dsa1: 64-bit DMA masks" dma_masks_64 dsa1
tap_check "dsa0 pasid_enabled reads 1" reads $D/dsa0/pasid_enabled 1
tap_check "dsa1 pasid_enabled reads 1" reads $D/dsa1/pasid_enabled 1
# The IOMMU driver enabled ATS (ATS control at 0x106, bit 15), PASID (PASID control at
# 0x116, bit 0) and PRI (PRI control at 0x124, bit 0; the guest's intel-iommu has x-prs=on) in
# the devices' config space (intel_dsa.c puts the capabilities there).
cfg16() { echo $((0x$(od -An -tx2 -j $(($2)) -N2 "$(dirname "$(readlink -f $D/$1)")/config" | tr -d ' '))); }
ats_on() { [ $(($(cfg16 $1 0x106) & 0x8000)) != 0 ]; }
pasid_on() { [ $(($(cfg16 $1 0x116) & 1)) != 0 ]; }
pri_on() { [ $(($(cfg16 $1 0x124) & 1)) != 0 ]; }
tap_check "dsa0: ATS enabled" ats_on dsa0
tap_check "dsa0: PASID enabled" pasid_on dsa0
tap_check "dsa0: PRI enabled" pri_on dsa0
tap_check "dsa1: ATS enabled" ats_on dsa1
tap_check "dsa1: PASID enabled" pasid_on dsa1
tap_check "dsa1: PRI enabled" pri_on dsa1
tap_check "dsa0 has an event log (event_log_size 64)" reads $D/dsa0/event_log_size 64
tap_check "dsa1 has no event log" test ! -e $D/dsa1/event_log_size
tap_check "dsa1 has no per-WQ op_config (DSA 1.0)" test ! -e $D/wq1.0/op_config

lists_both() {
	out=$(accfg list -i 2>&1)
	echo "$out" | grep -q '"dev":"dsa0"' && echo "$out" | grep -q '"dev":"dsa1"' && return 0
	echo "$out" | sed 's/^/# /'
	return 1
}
tap_check "accel-config list -i shows dsa0 and dsa1" lists_both

# One group: one engine and a dedicated user WQ of 16 entries; PRS disabled on DSA 2.0.  No
# read-buffer settings: GRPCAP has no read-buffer control, and idxd refuses them (EPERM).
write_config() {
	dev=$1
	n=${dev#dsa}
	prs=""
	[ "$dev" = dsa0 ] && prs='"prs_disable":1,'
	cat >"/tmp/$dev.conf" <<-EOF
	[
	  {
	    "dev":"$dev",
	    "groups":[
	      {
	        "dev":"group$n.0",
	        "grouped_workqueues":[
	          {
	            "dev":"wq$n.0",
	            "mode":"dedicated",
	            "size":16,
	            "group_id":0,
	            "priority":10,
	            "block_on_fault":0,
	            $prs
	            "type":"user",
	            "driver_name":"user",
	            "name":"app$n",
	            "threshold":0
	          }
	        ],
	        "grouped_engines":[
	          {
	            "dev":"engine$n.0",
	            "group_id":0
	          }
	        ]
	      }
	    ]
	  }
	]
	EOF
}

load_config() {
	write_config "$1"
	out=$(accfg load-config -c "/tmp/$1.conf" -e 2>&1) && return 0
	echo "$out" | sed 's/^/# /'
	return 1
}

# dsa_test on the dedicated WQ (-w 0: mmap'd portal + MOVDIR64B) of device $1.
dsatest() {
	dev=$1
	shift
	n=${dev#dsa}
	out=$(dsa_test -w 0 -d "$dev/wq$n.0" -t 5000 "$@" 2>&1) && return 0
	echo "$out" | tail -n 20 | sed 's/^/# /'
	return 1
}

# The event-log cases of accel-config's test_all.sh (batches of memmoves on the dedicated WQ,
# PRS disabled; CR pages dropped or unmapped, source pages and descriptor lists unmapped),
# with their patterns: <batch: bc_fault,bc_wr_fail,da_fault,da_idx>:<per descriptor:
# desc_fault,cp_fault,cp_wr_fail,fence>.  dsa_test checks the CRs as the C driver leaves
# them; each case must also have gone through the event log as expected (count of entries:
# the tail in /sys/kernel/debug/idxd/dsa0/event_log moves by one per entry, mod 64).
EVL_CASES="1a.0=0,0,0,0:0,0,0,0:0,1,0,0
1a.1=0,0,0,0:0,0,0,0:0,1,1,0
1b=0,0,0,0:0,0,0,0:0,1,0,0:0,0,0,1
2a=0,0,0,0:1,0,0,0:0,1,0,0
2b=0,0,0,0:1,0,0,0:0,1,0,0:0,0,0,1
3.0=0,0,0,0:0,0,0,0:1,1,0,0:0,0,0,1
3.1=0,0,0,0:0,0,0,0:1,1,1,0:0,0,0,1
4a.0=1,0,0,0:0,0,0,0:0,1,0,0
4a.1=1,0,0,0:0,0,0,0:0,1,1,0
4b=1,0,0,0:0,0,0,0:0,0,0,0
6a=0,0,1,2:0,0,0,0:0,0,0,0:0,0,0,0
6b=1,0,1,2:0,0,0,0:0,0,0,0:0,0,0,0
6c.0=0,0,1,2:0,0,0,0:0,1,0,0:0,0,0,0
6c.1=0,0,1,2:0,0,0,0:0,1,1,0:0,0,0,0
6d.0=0,0,1,2:1,0,0,0:0,1,0,0:0,0,0,0
6d.1=0,0,1,2:1,0,0,0:0,1,1,0:0,0,0,0"
evl_tail() { evl_tail_of "$EVL_FILE"; }
# evl_case PATTERN EXPECTED-ENTRIES
evl_case() {
	t0=$(evl_tail)
	ndesc=$(($(echo "$1" | tr -cd : | wc -c)))
	out=$(dsa_test -w 0 -d dsa0/wq0.0 -o 1 -b 3 -f 0x8 -c $ndesc -e "$1" -t 5000 2>&1 </dev/null)
	rc=$?
	t1=$(evl_tail)
	got=$(((t1 - t0 + 64) % 64))
	echo "# event-log entries: $got (expected $2)"
	[ $rc = 0 ] && [ "$got" = "$2" ] && return 0
	echo "$out" | tail -n 20 | sed 's/^/# /'
	return 1
}
# Entries each case makes: one per sub-descriptor CR that faults (before a fence stops the
# batch), then one for the batch's CR when a sub-descriptor's CR went to the log (0x27) or
# when the batch's own CR page is gone (0x1a).
evl_expected() {
	case $1 in
	6a) echo 0 ;;
	4b|6b) echo 1 ;;
	*) echo 2 ;;
	esac
}
evl_cases() {
	while IFS== read -r name pat; do
		tap_check "dsa0: event-log case $name (dsa_test -e $pat)" evl_case "$pat" "$(evl_expected "$name")"
	done <<-EOF
	$EVL_CASES
	EOF
}

# page_requests D W: ridxd_bench's latency run on wq<D>.<W> (dedicated, PRS on): 2000 no-ops
# whose CR pages were never touched, each written by the device once the IOMMU driver has
# answered its page request; the page request queue's interrupts must rise.
page_requests() {
	p0=$(prq_irqs)
	/ridxd/selftests/ridxd_bench $1 $2 latency >/tmp/pr.out 2>&1 || { sed 's/^/# /' /tmp/pr.out; return 1; }
	p1=$(prq_irqs)
	sed 's/^/# /' /tmp/pr.out
	echo "# page request queue interrupts: $p0 -> $p1"
	[ "$p1" -gt "$p0" ]
}

# file_node WQ: opens /dev/dsa/WQ and prints the dsa bus's file nodes and the pid attribute of
# each while it is open, as "file<N>=<pid> (opener <pid>)".
file_node() {
	sh -c 'exec 3<>/dev/dsa/'"$1"' || exit 1
		for f in /sys/bus/dsa/devices/file*; do
			[ -e "$f" ] && echo "${f##*/}=$(cat "$f/pid") (opener $$)"
		done'
}
# file_ids WQ: an open file's node is file<the lowest free number>, as idxd's file_ida gives
# them: with no other file open (and after the dsa_test runs above opened and closed theirs),
# each of two opens in turn is file0, its pid attribute the opener's.
file_ids() {
	a=$(file_node "$1") && b=$(file_node "$1") || return 1
	echo "# first open: $a; second open: $b"
	case $a in "file0="*" (opener "*")") ;; *) return 1 ;; esac
	case $b in "file0="*" (opener "*")") ;; *) return 1 ;; esac
	pid=${a#file0=}
	[ "${pid%% *}" = "$(echo "${a##*opener }" | tr -d ')')" ]
}

# flr DEV: a function-level reset of enabled device DEV (its PCI function's reset attribute,
# method flr), as idxd handles one (reset_prepare saves the configuration, reset_done enables
# the device and its WQs again with it): afterwards the same configuration is enabled, saved
# by accel-config the same as before.
flr() {
	pci=$(dirname "$(readlink -f "$D/$1")")
	accfg save-config -s /tmp/flr-before.conf >/dev/null 2>&1 || return 1
	echo flr >"$pci/reset_method" || { echo "# no FLR: $(cat "$pci/reset_method" 2>&1)"; return 1; }
	echo 1 >"$pci/reset" || return 1
	echo "# $1: $(cat "$D/$1/state"), wq${1#dsa}.0 $(cat "$D/wq${1#dsa}.0/state")"
	accfg save-config -s /tmp/flr-after.conf >/dev/null 2>&1 || return 1
	diff -u /tmp/flr-before.conf /tmp/flr-after.conf | head -n 30 | sed 's/^/# /'
	cmp -s /tmp/flr-before.conf /tmp/flr-after.conf
}

# refused ERRNO-TEXT FILE VALUE: writing VALUE to FILE fails with that errno (its strerror text,
# as the shell prints it), and FILE reads as before.
refused() {
	old=$(cat "$2")
	err=$(sh -c "echo '$3' >'$2'" 2>&1) && { echo "# $2: $3 taken"; return 1; }
	echo "# ${err##*: }"
	case $err in *"$1"*) ;; *) return 1 ;; esac
	[ "$(cat "$2")" = "$old" ]
}
# bad_opcode DEV ARGS...: dsa_test on DEV's dedicated WQ fails, its descriptor (or the batch
# descriptor) completed with status 0x10 (unsupported operation code).
bad_opcode() {
	dev=$1
	shift
	out=$(dsa_test -v -w 0 -d "$dev/wq${dev#dsa}.0" -t 5000 "$@" 2>&1) && {
		echo "# dsa_test passed"
		return 1
	}
	# -v dumps the CR by qwords: the status is the low byte of the first one
	echo "$out" | grep -qE 'compl\[0\]: 0x[0-9a-f]{14}10$' && return 0
	echo "$out" | tail -n 8 | sed 's/^/# /'
	return 1
}
# op_config (DSA 2.0, dsa0): the WQ's allowed operations (OPCFG), idxd's rules: all of OPCAP
# at first; written only while the WQ is disabled (EPERM, as idxd refuses every change of an
# enabled WQ), only with operations OPCAP has (EINVAL); an operation left out completes with
# 0x10, a batch included (accel-config's dsa_config_test_runner.sh checks the same).
# Unbinding a WQ resets what idxd_wq_disable_cleanup() resets: mode (shared), priority,
# threshold, flags (prs_disable), name, type, op_config (all of OPCAP); size and group stay.
wq0_after_disable() {
	w=$D/wq0.0
	got="$(cat $w/mode) $(cat $w/priority) $(cat $w/threshold) $(cat $w/prs_disable)"
	got="$got [$(cat $w/name)] $(cat $w/type) $(cat $w/size) $(cat $w/group_id)"
	echo "# mode priority threshold prs_disable [name] type size group_id: $got"
	[ "$got" = "shared 0 0 0 [] none 16 0" ] && [ "$(cat $w/op_config)" = "$(cat $D/dsa0/op_cap)" ]
}
# wq0.0 configured again as write_config has it, op_config as it is, and enabled.
wq0_enable() {
	accfg config-wq dsa0/wq0.0 --mode=dedicated --priority=10 --prs-disable=1 --type=user \
		--name=app0 --driver-name=user && accfg enable-wq dsa0/wq0.0
}
OPCFG0=00000000,00000000,00000000,00000000,00000000,00000000,00000000
op_config_checks() {
	w=$D/wq0.0
	tap_check "dsa0: wq0.0 op_config is op_cap" sh -c "[ \"\$(cat $w/op_config)\" = \"\$(cat $D/dsa0/op_cap)\" ]"
	for a in "mode shared" "size 8" "priority 3" "op_config 8"; do
		tap_check "dsa0: ${a%% *} of enabled wq0.0 refused with EPERM" \
			refused "Operation not permitted" "$w/${a%% *}" "${a#* }"
	done
	tap_check "dsa0: accel-config disable-wq (op_config)" accfg disable-wq dsa0/wq0.0
	tap_check "dsa0: op_config 8 (memmove only) taken" sh -c "echo 8 >$w/op_config"
	tap_check "dsa0: op_config reads $OPCFG0,00000008" reads $w/op_config "$OPCFG0,00000008"
	tap_check "dsa0: op_config with an operation OPCAP lacks (AP_DELTA) refused with EINVAL" \
		refused "Invalid argument" "$w/op_config" 100
	tap_check "dsa0: accel-config enable-wq (op_config 8)" wq0_enable
	tap_check "dsa0: op_config 8: dsa_test -o 0x3 runs" dsatest dsa0 -o 0x3 -l 4096
	tap_check "dsa0: op_config 8: memfill completes with 0x10" bad_opcode dsa0 -o 0x4 -l 4096
	tap_check "dsa0: op_config 8: a batch completes with 0x10" \
		bad_opcode dsa0 -o 0x1 -b 0x3 -c 2 -l 4096
	tap_check "dsa0: accel-config disable-wq (op_config 8)" accfg disable-wq dsa0/wq0.0
	tap_check "dsa0: a disabled wq0.0 reads as idxd leaves it, op_config all of op_cap again" \
		wq0_after_disable
	tap_check "dsa0: op_config of all of op_cap taken" sh -c "cat $D/dsa0/op_cap >$w/op_config"
	tap_check "dsa0: accel-config enable-wq (op_config all)" wq0_enable
	tap_check "dsa0: op_config all: memfill runs" dsatest dsa0 -o 0x4 -l 4096
}

# halt DEV TYPE: DEV halts needing reset TYPE (0: Reset Device, 1: a function-level reset), as
# after an internal error (the QEMU device's test register at BAR0 + 0x1f00, which counts the
# halts it made), and its driver brings it back with its configuration, as idxd_halt() does
# (idxd_device_reinit() for 0, pci_reset_function() for 1): within 10 s GENSTS reads enabled,
# the device and its WQ are enabled with the char device, and accel-config saves the same
# configuration as before.
halt() {
	n=${1#dsa}
	bar=$(($(cut -d' ' -f1 "$(dirname "$(readlink -f "$D/$1")")/resource" | head -n 1)))
	gensts() { devmem $((bar + 0x90)) 32; }
	accfg save-config -s /tmp/halt-before.conf >/dev/null 2>&1 || return 1
	h0=$(($(devmem $((bar + 0x1f00)) 32)))
	devmem $((bar + 0x1f00)) 32 "$2"
	i=0
	while [ $i -lt 100 ]; do
		[ $(($(gensts) & 3)) = 1 ] && [ "$(cat $D/$1/state)" = enabled ] &&
			[ "$(cat $D/wq$n.0/state)" = enabled ] && [ -c /dev/dsa/wq$n.0 ] && break
		sleep 0.1
		i=$((i + 1))
	done
	# The count survives the resets; read while the function is in a reset it is 0.
	h1=$(($(devmem $((bar + 0x1f00)) 32)))
	echo "# after ${i}00 ms: GENSTS $(gensts), $1 $(cat $D/$1/state), wq$n.0 $(cat $D/wq$n.0/state); halts made $h0 -> $h1"
	[ $i -lt 100 ] && [ "$h1" = $((h0 + 1)) ] || return 1
	accfg save-config -s /tmp/halt-after.conf >/dev/null 2>&1 || return 1
	diff -u /tmp/halt-before.conf /tmp/halt-after.conf | head -n 30 | sed 's/^/# /'
	cmp -s /tmp/halt-before.conf /tmp/halt-after.conf
}

for dev in dsa0 dsa1; do
	n=${dev#dsa}
	kmark "$dev-enable"
	tap_check "$dev: load-config -e of a dedicated user WQ" load_config $dev
	tap_check "$dev: device enabled" reads $D/$dev/state enabled
	tap_check "$dev: wq$n.0 enabled" reads $D/wq$n.0/state enabled
	tap_check "$dev: /dev/dsa/wq$n.0 exists" test -c /dev/dsa/wq$n.0
	tap_check "$dev: no $DRV error or warning at enable" no_new_warnings "$dev-enable"
	for op in 0x0 0x3 0x4 0x5 0x6; do
		for len in 1 4096 65536 1048576; do
			[ $op = 0x0 ] && [ $len != 4096 ] && continue
			tap_check "$dev: dsa_test -o $op -l $len" dsatest $dev -o $op -l $len
		done
	done
	tap_check "$dev: dsa_test drain -o 0x2" dsatest $dev -o 0x2 -l 4096
	for op in 0x0 0x3 0x4 0x5 0x6; do
		tap_check "$dev: dsa_test batch -o 0x1 -b $op -c 16 -l 4096" \
			dsatest $dev -o 0x1 -b $op -c 16 -l 4096
	done
	# dsa0 (DSA 2.0, PRS off) only: dsa1 has no event log, its CR faults are page requests.
	[ $dev = dsa0 ] && tap_check "dsa0: file<N>/cr_faults read at dsa_test's close: 9, one per event-log entry of its batch of 8 CR faults" \
		cr_faults_at_close dsa0 wq0.0 "$EVL_FILE" 9 -w 0 -o 1 -b 3 -f 0x8 -c 8 -e "$CR_FAULTS_8"
	tap_check "$dev: dsa_test -o 0x3 -n 64 -l 4096 (64 descriptors)" \
		dsatest $dev -o 0x3 -n 64 -l 4096
	tap_check "$dev: an open file's node is file0 when no other is open (lowest free number)" \
		file_ids wq$n.0
	[ $dev = dsa0 ] && evl_cases
	[ $dev = dsa0 ] && op_config_checks
	[ $dev = dsa1 ] && tap_check "dsa1: CRs in never-touched pages complete through page requests (PRS on)" \
		page_requests 1 0
	kmark "$dev-flr"
	tap_check "$dev: FLR: enabled again with the same configuration" flr $dev
	tap_check "$dev: FLR: device enabled" reads $D/$dev/state enabled
	tap_check "$dev: FLR: wq$n.0 enabled" reads $D/wq$n.0/state enabled
	tap_check "$dev: FLR: /dev/dsa/wq$n.0 exists" test -c /dev/dsa/wq$n.0
	tap_check "$dev: FLR: dsa_test -o 0x3 -l 4096" dsatest $dev -o 0x3 -l 4096
	tap_check "$dev: FLR: dsa_test batch -o 0x1 -b 0x3 -c 16 -l 4096" \
		dsatest $dev -o 0x1 -b 0x3 -c 16 -l 4096
	# idxd_reset_done() unbinds the device with its WQ enabled, and says so (a warning).
	tap_check "$dev: FLR: no $DRV error or warning" \
		no_new_warnings "$dev-flr" "idxd $dev: Active wq 0 on disable wq$n.0."
	kmark "$dev-halt"
	tap_check "$dev: halt needing an FLR: enabled again as before" halt $dev 1
	tap_check "$dev: after that halt: dsa_test batch -o 0x1 -b 0x3 -c 16 -l 4096" \
		dsatest $dev -o 0x1 -b 0x3 -c 16 -l 4096
	# idxd cannot come back from a halt that needs Reset Device: idxd_device_reinit() sends it
	# through idxd_cmd_exec(), which refuses every command while GENSTS says halted ("Device
	# is HALTED!"), and idxd_device_reset() forgets the configuration before it is written
	# again; the device stays halted. So only ridxd is checked here.
	if [ "$DRV" = ridxd ]; then
		tap_check "$dev: halt needing Reset Device: enabled again as before" halt $dev 0
		tap_check "$dev: after that halt: dsa_test -o 0x3 -l 4096" dsatest $dev -o 0x3 -l 4096
	fi
	# What each says of a halt: idxd's reset_done() unbinds the device with its WQ enabled, and
	# says so (a warning); ridxd logs the halt and the reset it needs (an error).
	case $DRV in
	idxd) said="idxd $dev: Active wq 0 on disable wq$n.0." ;;
	ridxd) said=": device halted: it needs a " ;;
	esac
	tap_check "$dev: halts: no $DRV error or warning but what it says of a halt" \
		no_new_warnings "$dev-halt" "$said"
	kmark "$dev-disable"
	tap_check "$dev: accel-config disable-wq" accfg disable-wq $dev/wq$n.0
	tap_check "$dev: accel-config disable-device" accfg disable-device $dev
	tap_check "$dev: device disabled" reads $D/$dev/state disabled
	tap_check "$dev: no $DRV error or warning at disable" no_new_warnings "$dev-disable"
done

# Register-level refusals of the device, behind the driver's back on dsa1 (DSA 1.0) while it
# is disabled, then enabled again: BAR0 through /dev/mem (busybox devmem), commands without
# int_req (no interrupt, the driver's state is untouched), CMDSTS read back.
dsa1_pci=$(dirname "$(readlink -f $D/dsa1)")
BAR0=$(($(cut -d' ' -f1 "$dsa1_pci/resource" | head -n 1)))
r32() { echo $(($(devmem $((BAR0 + $1)) 32))); }
w32() { devmem $((BAR0 + $1)) 32 $(($2)); }
cmd_status() { w32 0xa0 $((($1 << 20) | $2)); [ "$(r32 0xa8)" = $(($3)) ]; }
ro_version() { w32 0 0xffffffff; [ "$(r32 0)" = $((0x100)) ]; }
wqsize_rw() {
	old=$(r32 0x500)
	w32 0x500 5
	v=$(r32 0x500)
	w32 0x500 "$old"
	[ "$v" = 5 ] && [ "$(r32 0x500)" = "$old" ]
}
engines_masked() {
	w32 0x4e0 0xff
	v=$(r32 0x4e0)
	w32 0x4e0 0
	[ "$v" = $((0xf)) ]
}
wqcfg_locked() {
	old=$(r32 0x500)
	w32 0x500 1
	[ "$(r32 0x500)" = "$old" ] && [ "$old" != 1 ]
}
tap_check "dsa1 regs: VERSION ignores writes" ro_version
tap_check "dsa1 regs: Enable WQ on a disabled device fails with 0x20" cmd_status 6 0 0x20
tap_check "dsa1 regs: Disable WQ on a disabled device fails with 0x32" cmd_status 7 1 0x32
tap_check "dsa1 regs: Disable Device on a disabled device fails with 0x31" cmd_status 2 0 0x31
tap_check "dsa1 regs: an unknown command fails with 0x01" cmd_status 0x1f 0 0x01
tap_check "dsa1 regs: WQCFG size writable while the device is disabled" wqsize_rw
tap_check "dsa1 regs: GRPCFG engines keeps existing engines only" engines_masked
# idxd forgets a configurable device's configuration when it is disabled: load it again.
tap_check "dsa1: load-config -e again" load_config dsa1
tap_check "dsa1 regs: Enable WQ on an enabled WQ fails with 0x21" cmd_status 6 0 0x21
tap_check "dsa1 regs: Enable Device on an enabled device fails with 0x10" cmd_status 1 0 0x10
tap_check "dsa1 regs: Enable WQ with a bad index fails with 0x02" cmd_status 6 9 0x02
tap_check "dsa1 regs: an enabled WQ's WQCFG ignores writes" wqcfg_locked
tap_check "dsa1: dsa_test -o 0x3 -l 4096 after all that" dsatest dsa1 -o 0x3 -l 4096
kmark final
tap_check "dsa1: accel-config disable-wq" accfg disable-wq dsa1/wq1.0
tap_check "dsa1: accel-config disable-device" accfg disable-device dsa1
no_dmar_faults() { ! dmesg | grep -E 'DMAR: \[DMA|DMAR: DRHD: handling fault'; }
tap_check "no DMAR fault was recorded (ATS page faults are not faults)" no_dmar_faults
tap_check "no error or warning at the end" no_new_warnings final

# ridxd only: a device that cannot be stopped, unbound with a file open. dsa0 halts needing a
# warm reset (the QEMU test register, type 2): a platform reset, which the driver cannot make
# (it asks for no FLR then); the open file is revoked, the device stays halted with its event
# log kept (it did not stop when told to). The unbind turns the function's bus mastering off
# first, then frees the ring, before the unbind ends (the debug kernel's DMA API debugging
# warns of DMA memory still allocated after it: the revoked file, still open, holds the
# device). A reset through sysfs (an FLR, which clears any halt of the QEMU device) lets the
# function be probed again.
stuck_halt() {
	bar=$(($(cut -d' ' -f1 "/sys/bus/pci/devices/$1/resource" | head -n 1)))
	devmem $((bar + 0x1f00)) 32 2
	i=0
	while [ $i -lt 50 ] && ! reads $D/dsa0/state halted; do sleep 0.1; i=$((i + 1)); done
	echo "# GENSTS $(devmem $((bar + 0x90)) 32), dsa0 $(cat $D/dsa0/state)"
	reads $D/dsa0/state halted
}
# wq_write: one zero descriptor (a no-op without a completion record) written to fd 3 by this
# shell: printf is ash's builtin, and a forked writer would be another address space, which
# the file refuses (EPERM) whatever its state.
wq_write() { printf '\0%.0s' $(seq 64) >&3 2>/dev/null; }
# revoked: within 5 s (the halt's handling revokes the file from a work item) writes fail.
revoked() {
	i=0
	while wq_write; do
		[ $i -ge 50 ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}
stuck_said() {
	w=$(new_warnings stuck | grep -vF -e ': device halted: it needs a ' \
		-e 'the device could not be stopped' -e 'bus mastering turned off')
	[ -z "$w" ] || { echo "$w" | sed 's/^/# /'; return 1; }
	new_warnings stuck | grep -F 'the device did not stop: bus mastering turned off, its event log freed' |
		sed 's/^/# /' | grep -q .
}
if [ "$DRV" = ridxd ]; then
	dsa0_fn=$(basename "$(dirname "$(readlink -f $D/dsa0)")")
	tap_check "dsa0: load-config -e for the unbind of a stuck device" load_config dsa0
	# "command": a failed redirection must not end the script.
	command exec 3<>/dev/dsa/wq0.0
	tap_check "dsa0: a no-op written to the open wq0.0" wq_write
	kmark stuck
	tap_check "dsa0: halted needing a warm reset, with a file open" stuck_halt "$dsa0_fn"
	tap_check "dsa0: the open file is revoked" revoked
	tap_check "dsa0: unbind ridxd from the function" \
		sh -c "echo $dsa0_fn > /sys/bus/pci/drivers/$RIDXD_MOD/unbind"
	tap_check "dsa0: the function is left disabled, bus mastering off" pci_fn_off "$dsa0_fn"
	exec 3>&-
	tap_check "dsa0: ridxd said it turned bus mastering off and freed the event log" stuck_said
	kmark reprobe
	tap_check "dsa0: a reset through sysfs clears the halt" \
		sh -c "echo 1 > /sys/bus/pci/devices/$dsa0_fn/reset"
	tap_check "dsa0: bound again" sh -c "echo $dsa0_fn > /sys/bus/pci/drivers/$RIDXD_MOD/bind"
	back() {
		for d in $D/dsa[0-9]*; do
			[ "$(basename "$(dirname "$(readlink -f $d)")")" = "$dsa0_fn" ] || continue
			echo "# $(basename $d): $(cat $d/state)"
			reads $d/state disabled && return 0
		done
		return 1
	}
	tap_check "dsa0's function probed again, disabled" back
	tap_check "dsa0: no warning at that probe" no_new_warnings reprobe
fi

# The plan, counted (TAP allows it after the test points); exit 0 only if all of them passed.
ktap_set_plan "$((KTAP_TESTNO - 1))"
ktap_finished
