# SPDX-License-Identifier: GPL-2.0
# ridxd's own kselftest (ridxd_wq_test) on the project's QEMU intel-dsa devices, through ridxd's
# PCI path: dsa0 is the DSA 2.0 device, dsa1 the DSA 1.0 one.  Each is given the kselftest's
# default configuration without its shared WQ (TCG has no ENQCMD, and ridxd, as idxd, then
# enables no shared WQ): every engine in group 0, wq<D>.0 dedicated, 16 entries.  With PRS on
# the device's page requests (PRI) are answered by the guest's IOMMU driver (the guest's
# intel-iommu has x-prs=on).  What the devices cannot do is skipped by the kselftest with its
# reason: shared WQs (no ENQCMD), the model's own knobs, several openers of one WQ.  Run by
# "ridxd-dev dsa-vm guest dsa-kselftest.sh".
#
# The console shows one DMAR fault per device, "[DMA Read NO_PASID] ... SM: Invalid
# Scalable-Mode PASID Table Entry" at a user address, most likely from
# killed_with_faults_pending (run alone on dsa0 it makes QEMU print "vtd_iommu_translate:
# detected translation failure" at a user address; no other case tried did): the killed process's mm goes (exit_mm(), whose
# mmu_notifier release makes intel-iommu clear the PASID's table entry) before its files are
# closed and the driver drains the PASID, so the device's next request with that PASID finds
# no entry. The request did carry the PASID: QEMU 10.2.2's vtd_do_iommu_translate() records
# PASID-entry faults with is_pasid false, so the guest prints NO_PASID and dumps PASID 0's
# entry (which is valid).
. /ridxd/tap.sh
D=/sys/bus/dsa/devices

# configure D: the configuration above on dsa<D>, enabled, wq<D>.0 enabled.
configure() {
	for e in $D/engine$1.*; do echo 0 > $e/group_id || return 1; done
	echo dedicated > $D/wq$1.0/mode && echo 16 > $D/wq$1.0/size &&
		echo 1 > $D/wq$1.0/priority && echo 0 > $D/wq$1.0/group_id &&
		echo user > $D/wq$1.0/driver_name && echo ridxd > $D/wq$1.0/name &&
		echo dsa$1 > /sys/bus/dsa/drivers/idxd/bind && echo wq$1.0 > /sys/bus/dsa/drivers/user/bind &&
		[ "$(cat $D/dsa$1/state)" = enabled ] && [ "$(cat $D/wq$1.0/state)" = enabled ]
}
# kselftest D: ridxd_wq_test on dsa<D>, its output indented below the test point, and the
# page request queue's interrupts during it.
kselftest() {
	p0=$(prq_irqs)
	RIDXD_DEV=$1 /ridxd/selftests/ridxd_wq_test > /tmp/ks$1.out 2>&1
	rc=$?
	sed 's/^/    /' /tmp/ks$1.out
	grep '^# Totals' /tmp/ks$1.out
	echo "# page request queue interrupts during the run: $(($(prq_irqs) - p0))"
	return $rc
}
# ran D MIN: the run on dsa<D> passed at least MIN of its cases (not all skipped).
ran() {
	n=$(sed -n 's/^# Totals: pass:\([0-9]*\) .*/\1/p' /tmp/ks$1.out)
	echo "# dsa$1: $n cases passed"
	[ "${n:-0}" -ge "$2" ]
}

# The debug kernel (lockdep, KASAN, kmemleak) runs 2,000 open/close cycles, not 10,000, as in
# tests.sh.
[ "$RIDXD_VARIANT" = debug ] && export RIDXD_CYCLES=2000

ktap_print_header
tap_check "insmod ridxd (PCI devices come up disabled)" insmod "$RIDXD_KO"
tap_check "dsa0 (DSA 2.0) configured and enabled" configure 0
tap_check "dsa1 (DSA 1.0) configured and enabled" configure 1
tap_check "kselftest ridxd_wq_test on dsa0 (DSA 2.0, PCI)" kselftest 0
# The dedicated WQ's cases, PRS on and off, that need no model knob and no second opener
# (44 on 2026-12-03).
tap_check "dsa0: the dedicated PRS-on and PRS-off cases ran" ran 0 40
# DSA 1.0's run in the normal kernel only: the debug kernel's run (4 minutes with it) keeps to
# the DSA 2.0 device, whose cases include all of DSA 1.0's kinds.
if [ "$RIDXD_VARIANT" != debug ]; then
	tap_check "kselftest ridxd_wq_test on dsa1 (DSA 1.0, PCI)" kselftest 1
	# DSA 1.0: PRS on only, no batches from user space (18 on 2026-12-03).
	tap_check "dsa1: the dedicated PRS-on cases ran" ran 1 15
fi
# Last, as it takes dsa0 away: its PCI function removed with a file open on wq0.0 and the
# portal mapped (the kselftest's pci_function_removed_with_files_open, which runs only when
# asked), then a rescan brings the function back, probed again as a new device.
removed_with_file_open() {
	RIDXD_DEV=0 RIDXD_PCI_REMOVE=1 /ridxd/selftests/ridxd_wq_test \
		-t pci_function_removed_with_files_open > /tmp/rm.out 2>&1
	rc=$?
	sed 's/^/    /' /tmp/rm.out
	# Not skipped.
	grep -qx 'ok 1 global.pci_function_removed_with_files_open' /tmp/rm.out && return $rc
	return 1
}
tap_check "kselftest: dsa0's PCI function removed with a file open" removed_with_file_open
# rescanned: the DSA 2.0 function is back on the dsa bus, disabled (as after probe), beside dsa1.
rescanned() {
	echo 1 > /sys/bus/pci/rescan || return 1
	sleep 1
	for d in $D/dsa[0-9]*; do
		echo "# $(basename $d): version $(cat $d/version), $(cat $d/state)"
		[ "$(cat $d/version)" = 0x200 ] && [ "$(cat $d/state)" = disabled ] && return 0
	done
	return 1
}
tap_check "PCI rescan probes the DSA 2.0 function again" rescanned
tap_check "rmmod ridxd" rmmod "$RIDXD_MOD"
ktap_set_plan "$((KTAP_TESTNO - 1))"
ktap_finished
