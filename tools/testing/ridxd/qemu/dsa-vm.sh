# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Guests with intel-dsa devices: the project's QEMU (qemu.sh) with intel-iommu in scalable
# mode with PASID, first-stage translation and device-IOTLB (ATS), one DSA 2.0 and one DSA 1.0
# device, and an initramfs that adds the C idxd modules and accel-config (accel-config.sh).
# Uses the hooks of vm.sh.  Sourced by ridxd-dev.

# The devices: dsa0 is DSA 2.0, dsa1 DSA 1.0 (PCI order = order on the command line).
DSA_VM_DEVICES=(-device intel-dsa,version=2.0 -device intel-dsa,version=1.0)

# dsa_vm_initramfs ROOT VARIANT
# (A kernel whose ridxd is the idxd module, the debug one, has no C idxd modules to add.)
dsa_vm_initramfs() {
	local r=$1 b=$RIDXD_CACHE/build-$2 m
	[ "$(ridxd_module_name "$b")" = idxd ] ||
	for m in idxd_bus idxd; do
		[ -f "$b/drivers/dma/idxd/$m.ko" ] || { echo "!!! no $m.ko in build-$2" >&2; return 1; }
		cp "$b/drivers/dma/idxd/$m.ko" "$r/lib/modules/"
	done
	cp "$ACCFG_DIR/out/accel-config" "$ACCFG_DIR/out/dsa_test" "$r/bin/"
}

# dsa_vm_run VARIANT SCRIPT: vm_run on the project's QEMU with the intel-dsa devices (the
# hooks of vm.sh are set for this run only; VM_LOG stays set for the caller).
dsa_vm_run() {
	local rc=0
	VM_QEMU=$QEMU_DSA
	VM_QEMU_OPTS=("${QEMU_DSA_FW[@]}")
	VM_IOMMU_EXTRA=",device-iotlb=on,x-prs=on"
	VM_DEVICES=("${DSA_VM_DEVICES[@]}")
	VM_INITRAMFS_HOOK=dsa_vm_initramfs
	VM_LOG_TAG=-dsa
	# The debug guest ran dsa-ridxd.sh in about 120 s on 2026-12-02, the normal one in 30 s.
	local tmo=300
	[ "$1" = debug ] && tmo=600
	RIDXD_VM_TIMEOUT=${RIDXD_VM_TIMEOUT:-$tmo} vm_run "$@" || rc=$?
	VM_QEMU=/usr/bin/qemu-system-x86_64
	VM_QEMU_OPTS=()
	VM_IOMMU_EXTRA=""
	VM_DEVICES=()
	VM_INITRAMFS_HOOK=""
	VM_LOG_TAG=""
	return $rc
}

# dsa_guest_tests: the checks in "ridxd-dev test" (after the guest kernel is built): accel-config,
# then guest/dsa-idxd.sh (the C idxd driver), guest/dsa-ridxd.sh (the same checks with
# ridxd's PCI path) and guest/dsa-compare.sh (the same configuration under both drivers in one
# boot: accel-config's view and every sysfs attribute compared) and guest/dsa-kselftest.sh
# (ridxd's kselftest on the QEMU devices) in the normal guest kernel, and guest/dsa-ridxd.sh
# and guest/dsa-kselftest.sh in the debug one, their TAP lines counted.
dsa_guest_tests() {
	local rc=0
	phase setup-accel-config setup_accel_config || { TOTAL_FAIL=$((TOTAL_FAIL + 1)); return 1; }
	dsa_guest_run guest idxd || rc=1
	dsa_guest_run guest ridxd || rc=1
	dsa_guest_run guest compare || rc=1
	dsa_guest_run guest kselftest || rc=1
	# ridxd's PCI path under lockdep, KASAN and kmemleak: the model's SVA bind takes none of
	# the IOMMU core's locks, and only this guest showed their order against mmap's.
	dsa_guest_run debug ridxd || rc=1
	# The kselftest's PCI cases (a PCI function removed with files open, among them) there too.
	dsa_guest_run debug kselftest || rc=1
	return $rc
}

# dsa_guest_run VARIANT NAME: one intel-dsa guest of kernel VARIANT running guest/dsa-NAME.sh,
# counted.
dsa_guest_run() {
	local rc=0 v=$1 s=dsa-$2.sh p=guest-tests-dsa-$2
	[ "$v" = guest ] || p=$p-$v
	phase "$p" dsa_vm_run "$v" "$s" || rc=1
	# A boot that never reached the init script ran no test: once in about ten boots a guest
	# of this QEMU hung at early boot (after "mtrr: corrected configuration", before any
	# driver). Such a boot, and only such a boot, is tried once more, and said so.
	if [ "$rc" != 0 ] && ! grep -q '^=== ridxd guest start' "$VM_LOG"; then
		echo "!!! the intel-dsa guest hung before its init ran (log: $VM_LOG); booting it once more" >&2
		cp "$VM_LOG" "$VM_LOG.hung"
		rc=0
		phase "$p-retry" dsa_vm_run "$v" "$s" || rc=1
	fi
	add_totals "$(tap_totals "$VM_LOG")"
	# dsa-compare.sh's figures (idxd and ridxd side by side), for the summary.
	[ "$2" = compare ] && DSA_BENCH_FIGURES=$(sed -n 's/^BENCH //p' "$VM_LOG")
	[ "$rc" = 0 ] || { TOTAL_FAIL=$((TOTAL_FAIL + 1)); echo "!!! intel-dsa guest run ($s) failed" >&2; }
	return $rc
}
