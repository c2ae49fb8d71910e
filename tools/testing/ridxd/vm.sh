# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Boot a guest kernel in QEMU (q35, intel-iommu in scalable mode) with a busybox initramfs that
# holds ridxd.ko, the guest scripts of tools/testing/ridxd/guest/ and the test programs, run one
# guest script, and hand back its exit status.  The whole serial console is kept in
# $LOGS/vm-<variant>-<script>.log; the run fails loudly on any kernel splat in it.

# Hooks for guests on another QEMU (tools/testing/ridxd/qemu/dsa-vm.sh: the project's QEMU
# with intel-dsa devices): the binary and its options, extra intel-iommu options, extra
# devices, and a function that adds files to the initramfs (called with its root).
VM_QEMU=${VM_QEMU:-/usr/bin/qemu-system-x86_64}
VM_QEMU_OPTS=()
VM_IOMMU_EXTRA=""
VM_DEVICES=()
VM_INITRAMFS_HOOK=""
VM_LOG_TAG=""
# Extra kernel command-line arguments (the KUnit run: kunit.enable=1, build.sh).
VM_APPEND=""

# The intel-iommu options: scalable mode, plus PASID and first-stage translation where this
# QEMU has them (10.x: x-pasid-mode, x-flts).
iommu_device() {
	local opts="intel-iommu,intremap=on,x-scalable-mode=on" help
	help=$("$VM_QEMU" "${VM_QEMU_OPTS[@]}" -machine q35 -device intel-iommu,help 2>/dev/null || true)
	grep -q 'x-pasid-mode' <<<"$help" && opts+=",x-pasid-mode=on"
	grep -q 'x-flts' <<<"$help" && opts+=",x-flts=on"
	echo "$opts$VM_IOMMU_EXTRA"
}

# make_initramfs VARIANT OUT
make_initramfs() {
	local v=$1 out=$2 b=$RIDXD_CACHE/build-$1 r
	r=$RIDXD_CACHE/initramfs-$v
	rm -rf "$r"
	mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,lib/modules,ridxd}
	cp "$RIDXD_TOOLS"/guest/* "$r/ridxd/"
	cp "$TOOLS/busybox/bin/busybox" "$r/bin/"
	local a
	for a in $("$r/bin/busybox" --list); do
		[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
	done
	local mod
	mod=$(ridxd_module_name "$b")
	cp "$b/drivers/dma/ridxd/$mod.ko" "$r/lib/modules/"
	# guest/init: which module the guest scripts load.
	echo "$mod" >"$r/ridxd/module"
	# The kselftest TAP helpers the guest scripts source.
	cp "$KSRC/tools/testing/selftests/kselftest/ktap_helpers.sh" "$r/ridxd/"
	if [ -d "$RIDXD_CACHE/selftests" ]; then
		cp -r "$RIDXD_CACHE/selftests" "$r/ridxd/selftests"
	fi
	# accel-config and dsa_test, once built (qemu/accel-config.sh; tests.sh checks with them).
	if [ -n "${ACCFG_DIR:-}" ] && [ -x "$ACCFG_DIR/out/accel-config" ]; then
		cp "$ACCFG_DIR/out/accel-config" "$ACCFG_DIR/out/dsa_test" "$r/bin/"
	fi
	# strace (a Debian package; setup installs it), with the libraries it links: guest checks
	# hold a system call back with it (files.sh).
	initramfs_add_dynamic "$r" "$(command -v strace)" || return 1
	if [ -n "$VM_INITRAMFS_HOOK" ]; then "$VM_INITRAMFS_HOOK" "$r" "$v" || return 1; fi
	mv "$r/ridxd/init" "$r/init"
	chmod +x "$r/init" "$r"/ridxd/*.sh
	(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 >"$out")
}

# initramfs_add_dynamic ROOT BIN: BIN into ROOT/bin, and the shared libraries and dynamic
# loader it links (as ldd lists them) at their paths under ROOT.
initramfs_add_dynamic() {
	local r=$1 bin=$2 lib
	[ -x "$bin" ] || { echo "!!! initramfs: no ${bin:-binary} to add (run 'ridxd-dev setup')" >&2; return 1; }
	cp "$bin" "$r/bin/"
	for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$r$(dirname "$lib")"
		cp -L "$lib" "$r$lib"
	done
}

# splat_when LOG: where the first kernel splat of LOG came, relative to the guest script that
# the init script frames with "=== ridxd guest start" and "=== ridxd guest end": a splat at
# boot has nothing to do with what the script tested.
splat_when() {
	local f=$1 at start end
	at=$(grep -nE -m1 "$SPLAT_RE" "$f" | cut -d: -f1)
	start=$(grep -n -m1 '^=== ridxd guest start' "$f" | cut -d: -f1)
	end=$(grep -n -m1 '^=== ridxd guest end' "$f" | cut -d: -f1)
	if [ -z "$start" ] || [ "$at" -lt "$start" ]; then
		echo "at boot, before the guest script started (line $at)"
	elif [ -z "$end" ] || [ "$at" -lt "$end" ]; then
		echo "while the guest script ran (line $at)"
	else
		echo "after the guest script ended (line $at)"
	fi
}

# vm_run VARIANT SCRIPT: boot the VARIANT kernel, run /ridxd/SCRIPT in the guest.  Prints the
# guest's own output (TAP) and returns its exit status, or 1 on a splat, a timeout or no exit
# line.  VM_LOG is set to the serial log.
vm_run() {
	local v=$1 script=$2 b=$RIDXD_CACHE/build-$1
	# The debug guest ran its tests in 541 s on 2026-12-02 (the normal one in 188 s): binding
	# and unbinding through sysfs for every kselftest case is slow under lockdep, KASAN and
	# kmemleak.  Its timeout leaves it room; a hang still ends the run.
	local dflt=600
	[ "$v" = debug ] && dflt=900
	local img=$RIDXD_CACHE/initramfs-$v.cpio.gz mem=1024 tmo=${RIDXD_VM_TIMEOUT:-$dflt}
	[ -f "$b/arch/x86/boot/bzImage" ] || die "no $v kernel: run 'ridxd-dev build $v'"
	[ "$v" = debug ] && mem=3072
	make_initramfs "$v" "$img" || return 1
	VM_LOG=$LOGS/vm-$v$VM_LOG_TAG-${script%.sh}.log
	# shellcheck disable=SC2046
	timeout --foreground "$tmo" "$VM_QEMU" "${VM_QEMU_OPTS[@]}" \
		-machine q35,kernel-irqchip=split $(qemu_accel) -smp 2 -m "$mem" -nic none \
		-device "$(iommu_device)" "${VM_DEVICES[@]}" \
		-kernel "$b/arch/x86/boot/bzImage" -initrd "$img" \
		-append "console=ttyS0 intel_iommu=on,sm_on panic=-1 oops=panic ridxd.run=$script ridxd.variant=$v${VM_APPEND:+ $VM_APPEND}" \
		-nographic -no-reboot -trace vtd_reg_dmar_root </dev/null >"$VM_LOG" 2>&1 || true
	tr -d '\r' <"$VM_LOG" >"$VM_LOG.txt" && mv "$VM_LOG.txt" "$VM_LOG"
	# The guest's own lines are framed by the init script.
	sed -n '/^=== ridxd guest start/,/^=== ridxd guest end/p' "$VM_LOG"
	local rc
	rc=$(sed -nE 's/^RIDXD-GUEST-EXIT rc=([0-9]+)$/\1/p' "$VM_LOG" | tail -n1)
	if grep -qE "$SPLAT_RE" "$VM_LOG"; then
		echo "!!! kernel splat in the $v guest, $(splat_when "$VM_LOG") (full log: $VM_LOG):" >&2
		grep -nE -B2 -A25 "$SPLAT_RE" "$VM_LOG" | head -n 120 >&2
		return 1
	fi
	if [ -z "$rc" ]; then
		echo "!!! the $v guest gave no exit status (timeout or crash); log: $VM_LOG" >&2
		tail -n 40 "$VM_LOG" >&2
		return 1
	fi
	# The guests are meant to run with 4-level paging (see qemu_accel).
	if grep -q '^=== ridxd guest start: .*, 4-level paging)$' "$VM_LOG"; then
		log "$v guest: 4-level paging (no la57)"
	else
		echo "!!! $v guest: not seen to run with 4-level paging (log: $VM_LOG)" >&2
		return 1
	fi
	if grep -q 'vtd_reg_dmar_root.*scalable 1' "$VM_LOG"; then
		log "$v guest: intel-iommu root table programmed in scalable mode"
	else
		echo "!!! $v guest: intel-iommu scalable mode not seen (log: $VM_LOG)" >&2
		return 1
	fi
	return "$rc"
}

# tap_totals LOG: "passed failed skipped" counted from the guest's TAP lines in LOG.
tap_totals() {
	local f=$1 p f2 s
	# Top-level TAP lines only (a kselftest binary's subtests are indented).
	p=$(grep -cE '^ok [0-9]+' "$f" || true)
	s=$(grep -cE '^ok [0-9]+ .*# SKIP' "$f" || true)
	f2=$(grep -cE '^not ok [0-9]+' "$f" || true)
	echo "$((p - s)) $f2 $s"
}
