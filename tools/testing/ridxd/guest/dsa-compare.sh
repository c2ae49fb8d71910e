# SPDX-License-Identifier: GPL-2.0
# The C idxd driver as the reference for ridxd's user-visible ABI, on the same intel-dsa devices
# in one boot: the same configuration is loaded with accel-config under idxd, then under
# ridxd, and what accel-config lists and saves, and every attribute of every node on the dsa
# bus, are compared.
. /ridxd/tap.sh
D=/sys/bus/dsa/devices

# One configuration for both devices: two groups, two dedicated WQs in the first (PRS off on
# the second on the DSA 2.0 device), one in the second.  No shared WQ: TCG has no ENQCMD, and
# both drivers refuse to enable a device with a shared WQ then (checked below).
conf_dev() {
	n=$1 prs=$2 mode=${3:-dedicated} thr=""
	[ "$mode" = shared ] && thr='"threshold":8,' 
	cat <<-EOF
	  {
	    "dev":"dsa$n",
	    "groups":[
	      {
	        "dev":"group$n.0",
	        "grouped_workqueues":[
	          { "dev":"wq$n.0", "mode":"dedicated", "size":16, "group_id":0, "priority":10,
	            "block_on_fault":0, "type":"user", "driver_name":"user", "name":"app$n.0" },
	          { "dev":"wq$n.1", "mode":"$mode", "size":32, "group_id":0, "priority":5,
	            "block_on_fault":0, $prs $thr "type":"user",
	            "driver_name":"user", "name":"app$n.1" }
	        ],
	        "grouped_engines":[
	          { "dev":"engine$n.0", "group_id":0 }, { "dev":"engine$n.1", "group_id":0 }
	        ]
	      },
	      {
	        "dev":"group$n.1", "traffic_class_a":2, "traffic_class_b":3,
	        "grouped_workqueues":[
	          { "dev":"wq$n.2", "mode":"dedicated", "size":8, "group_id":1, "priority":1,
	            "block_on_fault":0, "type":"user", "driver_name":"user", "name":"app$n.2" }
	        ],
	        "grouped_engines":[
	          { "dev":"engine$n.2", "group_id":1 }
	        ]
	      }
	    ]
	  }
	EOF
}
# On the DSA 2.0 device the second WQ also runs only no-ops, batches and memmoves (op_config
# 0xb), what the benchmarks below submit to it.
{ echo "["; conf_dev 0 '"prs_disable":1, "op_config":"b",'; echo ","; conf_dev 1 ""; echo "]"; } >/tmp/both.conf
{ echo "["; conf_dev 1 "" shared; echo "]"; } >/tmp/shared.conf

# snapshot NAME: accel-config list -i, save-config, and NODE/ATTR=VALUE for every readable
# attribute of every dsa bus node and the DMA masks of a dsa device's PCI function (the first
# driver's masks stay set after its unbind, so dsa-idxd.sh checks each driver's alone), into
# /tmp/NAME.*, with what may differ made equal: the char devices' major (ridxd's are misc
# devices) and minor numbers; ridxd's WQs also have cr_faults and cr_fault_failures, and its
# dsa!wq<D>.<W> nodes no dev (the char device is the misc device of that name:
# Documentation/ABI/testing/sysfs-driver-ridxd).
snapshot() {
	accfg list -i 2>&1 | sed -E 's/"cdev_major":[0-9]+/"cdev_major":M/; s/"cdev_minor":[0-9]+/"cdev_minor":N/' \
		>/tmp/$1.list || return 1
	accfg save-config -s /tmp/$1.saved >/dev/null 2>&1 || return 1
	for node in $D/*; do
		for f in "$node"/*; do
			[ -f "$f" ] && [ -r "$f" ] || continue
			case ${f##*/} in uevent|cr_faults|cr_fault_failures) continue ;; esac
			case ${node##*/}/${f##*/} in dsa!wq*/dev) continue ;; esac
			printf '%s/%s=%s|\n' "${node##*/}" "${f##*/}" "$(cat "$f" 2>&1)"
		done
		# The PCI function under a dsa device: the DMA masks the driver set at probe.
		case ${node##*/} in dsa[0-9]*)
			for f in dma_mask_bits consistent_dma_mask_bits; do
				printf '%s/pci/%s=%s|\n' "${node##*/}" $f "$(cat "$node/../$f" 2>&1)"
			done ;;
		esac
	done | sed -E 's,^(dsa[0-9]+/cdev_major)=[0-9]+,\1=M,; s,^(wq[0-9.]+/cdev_minor)=[0-9]+,\1=N,' |
		sort >/tmp/$1.attrs
}

# fns_off: both intel-dsa PCI functions (8086:0b25) are off (pci_fn_off), as
# pci_disable_device() leaves them at the end of idxd_remove().
fns_off() {
	n=0
	for p in /sys/bus/pci/devices/*; do
		[ "$(cat "$p/vendor")" = 0x8086 ] && [ "$(cat "$p/device")" = 0x0b25 ] || continue
		pci_fn_off "${p##*/}" || return 1
		n=$((n + 1))
	done
	[ "$n" = 2 ]
}

show_out() {
	out=$("$@" 2>&1) && return 0
	echo "$out" | sed 's/^/# /'
	return 1
}

# same WHAT: /tmp/idxd.WHAT and /tmp/ridxd.WHAT are the same (else the diff is printed).
same() {
	diff -u /tmp/idxd.$1 /tmp/ridxd.$1 >/tmp/$1.diff && return 0
	head -n 60 /tmp/$1.diff | sed 's/^/# /'
	return 1
}

# same_off WHAT: as same, for the snapshots of the disabled devices.
same_off() {
	diff -u /tmp/idxd-off.$1 /tmp/ridxd-off.$1 >/tmp/$1-off.diff && return 0
	head -n 60 /tmp/$1-off.diff | sed 's/^/# /'
	return 1
}

# refused_shared: load-config -e of a shared WQ fails, the device stays disabled, and its
# cmd_status reads IDXD_SCMD_WQ_NO_SWQ_SUPPORT.
refused_shared() {
	accfg load-config -c /tmp/shared.conf -e >/dev/null 2>&1 && { echo "# loaded"; return 1; }
	st=$(cat $D/dsa1/state) cs=$(cat $D/dsa1/cmd_status)
	echo "# dsa1: state $st, cmd_status $cs"
	[ "$st" = disabled ] && [ "$cs" = 0x800c0000 ]
}

# Figures, each driver on the same device and workload (TCG: the ratio is what counts), printed
# as "BENCH" lines (ridxd-dev shows them in its summary).  now_ns: CLOCK_MONOTONIC in ns
# (busybox date has no %N).
now_ns() { sed -n 's/^now at \([0-9]*\) nsecs/\1/p' /proc/timer_list; }
# timed VAR CMD...: runs CMD, adds its wall time in ns to VAR; fails as CMD fails.
timed() {
	_v=$1
	shift
	_s=$(now_ns)
	"$@"
	_rc=$?
	eval "$_v=\$((\${$_v:-0} + $(now_ns) - _s))"
	return $_rc
}
# A batch of 32 memmoves on dsa0's wq0.1 (PRS off) whose CRs all fault (dsa_test -e, as in
# dsa-idxd.sh's event-log cases): 33 CRs the driver writes, the batch's included.
BENCH_PAT=0,0,0,0
for _i in $(seq 32); do BENCH_PAT=$BENCH_PAT:0,1,0,0; done
BENCH_RUNS=10
evl_tail() {
	sed -nE 's/^(Event Log )?head [0-9]+ tail ([0-9]+) .*/\2/p' "/sys/kernel/debug/$1/dsa0/event_log"
}
# bench_crs DRIVER: BENCH_RUNS such batches; the CR fix-ups per second, counted by the
# event log's tail.
bench_crs() {
	n=0 ns=0
	for _r in $(seq $BENCH_RUNS); do
		t0=$(evl_tail $1)
		timed ns dsa_test -w 0 -d dsa0/wq0.1 -o 1 -b 3 -f 0x8 -c 32 -e "$BENCH_PAT" -t 5000 \
			>/tmp/bench.out 2>&1 </dev/null || { tail -n 5 /tmp/bench.out | sed 's/^/# /'; return 1; }
		n=$((n + ($(evl_tail $1) - t0 + 64) % 64))
	done
	[ "$n" = $((33 * BENCH_RUNS)) ] || { echo "# $n event-log entries, not $((33 * BENCH_RUNS))"; return 1; }
	echo "BENCH $1: CR fix-ups (dsa_test, 10 batches of 32 faulting CRs + the batch's): $n in $((ns / 1000000)) ms, $((n * 1000000000 / ns))/s"
}

# bench_latency DRIVER: ridxd_bench's end-to-end latencies on dsa0's wq0.1 (dedicated, PRS
# off), write() returning to the CR's status byte visible: no-ops whose CR page was never
# touched (the device logs the CR, the driver writes it) and whose CR page is present.
bench_latency() {
	/ridxd/selftests/ridxd_bench 0 1 latency >/tmp/lat.out 2>&1 ||
		{ tail -n 5 /tmp/lat.out | sed 's/^/# /'; return 1; }
	sed -n -e "s/^latency_fault_us /BENCH $1: CR latency (us, ridxd_bench), CR page absent: /p" \
		-e "s/^latency_present_us /BENCH $1: CR latency (us, ridxd_bench), CR page present: /p" \
		/tmp/lat.out
}

ktap_print_header
tap_check "the CPU has no ENQCMD (TCG)" sh -c '! grep -qw enqcmd /proc/cpuinfo'
accfg() { accel-config "$@"; }
probe_idxd=0 enable_idxd=0 probe_ridxd=0 enable_ridxd=0
# Both drivers with tc_override, so that the second group's traffic classes are taken.
tap_check "idxd: insmod idxd_bus, idxd tc_override=1" timed probe_idxd sh -c 'insmod /lib/modules/idxd_bus.ko && insmod /lib/modules/idxd.ko tc_override=1'
tap_check "idxd: refuses a shared WQ without ENQCMD" refused_shared
tap_check "idxd: load-config -e" timed enable_idxd show_out accfg load-config -c /tmp/both.conf -e
tap_check "idxd: snapshot" snapshot idxd
# accel-config writes traffic classes on DSA 2.0 only (is_group_traffic_class_writable()).
tap_check "idxd: group0.1's traffic classes as loaded (2, 3)" sh -c \
	"grep -q '^group0.1/traffic_class_a=2|' /tmp/idxd.attrs && grep -q '^group0.1/traffic_class_b=3|' /tmp/idxd.attrs"
tap_check "idxd: wq0.1's op_config as loaded (0xb: no-op, batch, memmove)" \
	grep -q '^wq0.1/op_config=00000000,00000000,00000000,00000000,00000000,00000000,00000000,0000000b|' /tmp/idxd.attrs
tap_check "idxd: CR fix-ups measured" bench_crs idxd
tap_check "idxd: fix-up latency measured" bench_latency idxd
tap_check "idxd: disable both devices" sh -c 'accel-config disable-device dsa0 && accel-config disable-device dsa1'
tap_check "idxd: snapshot of the disabled devices" snapshot idxd-off
# Only one driver can own the dsa bus: with the C idxd_bus loaded, ridxd does not load, says why
# in one line, and leaves nothing registered (no module, PCI driver or debugfs directory).
refused_beside_idxd_bus() {
	if insmod "$RIDXD_KO" 2>/dev/null; then rmmod "$RIDXD_MOD"; return 1; fi
	dmesg | grep -F "$RIDXD_MOD: the dsa bus exists already (is idxd_bus loaded?): not loading" |
		sed 's/^/# /' | grep -q . && ! grep -q "^$RIDXD_MOD " /proc/modules &&
		[ ! -d "/sys/bus/pci/drivers/$RIDXD_MOD" ] && [ ! -e /sys/kernel/debug/ridxd ]
}
tap_check "ridxd: insmod refused while idxd_bus owns the dsa bus, nothing left registered" refused_beside_idxd_bus
tap_check "idxd: rmmod idxd, idxd_bus" sh -c 'rmmod idxd && rmmod idxd_bus'
tap_check "idxd: after rmmod both functions are disabled, bus mastering off" fns_off

accfg() { /ridxd/accfg.sh "$@"; }
tap_check "ridxd: insmod ridxd tc_override=1" timed probe_ridxd insmod "$RIDXD_KO" tc_override=1
tap_check "ridxd: refuses a shared WQ without ENQCMD" refused_shared
tap_check "ridxd: load-config -e" timed enable_ridxd show_out accfg load-config -c /tmp/both.conf -e
tap_check "ridxd: snapshot" snapshot ridxd
tap_check "ridxd: CR fix-ups measured" bench_crs ridxd
tap_check "ridxd: fix-up latency measured" bench_latency ridxd
for d in idxd ridxd; do
	eval "p=\$probe_$d e=\$enable_$d"
	echo "BENCH $d: probe (insmod, two devices) $((p / 1000000)) ms, load-config -e of both $((e / 1000000)) ms"
done
tap_check "accel-config list -i: the same under idxd and ridxd" same list
tap_check "accel-config save-config: the same under idxd and ridxd" same saved
tap_check "every attribute on the dsa bus: the same under idxd and ridxd" same attrs
tap_check "ridxd: disable both devices" sh -c '/ridxd/accfg.sh disable-device dsa0 && /ridxd/accfg.sh disable-device dsa1'
tap_check "ridxd: snapshot of the disabled devices" snapshot ridxd-off
# A disabled device has forgotten its configuration under both (idxd_device_clear_state()).
tap_check "disabled: accel-config list -i the same" same_off list
tap_check "disabled: every attribute the same" same_off attrs
tap_check "ridxd: rmmod ridxd" rmmod "$RIDXD_MOD"
tap_check "ridxd: after rmmod both functions are disabled, bus mastering off, as under idxd" fns_off
ktap_set_plan "$((KTAP_TESTNO - 1))"
ktap_finished
