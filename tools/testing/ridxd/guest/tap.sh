# SPDX-License-Identifier: GPL-2.0
# TAP for the guest scripts (tests.sh, dsa-idxd.sh), and the helpers they share, through the
# kernel's tools/testing/selftests/kselftest/ktap_helpers.sh (the harness puts it in /ridxd). Its
# ktap_test_result runs the command as an unquoted $@, which splits arguments that hold spaces
# (sh -c "..."), so tap_check runs the command itself and only reports through
# ktap_test_pass/ktap_test_fail. ktap_helpers.sh also prints descriptions unquoted: keep glob
# characters out of them.
. /ridxd/ktap_helpers.sh

# tap_check DESCRIPTION CMD...: one test point, "ok" when CMD succeeds.
tap_check() {
	_desc=$1
	shift
	if "$@"; then
		ktap_test_pass "$_desc"
	else
		ktap_test_fail "$_desc"
	fi
}

# prq_irqs: the interrupts of the IOMMU's page request queue so far (Linux names it
# dmar<N>-prq): one or more for each batch of page requests the devices made.
prq_irqs() { awk '/dmar[0-9]+-prq/ { n += $2 + $3 } END { print n + 0 }' /proc/interrupts; }

# pci_fn_off BDF: PCI function BDF is disabled (its sysfs "enable" reads 0) with Bus Master
# Enable (command register bit 2) clear, as pci_disable_device() leaves it: it can neither DMA
# nor send an MSI-X message.
pci_fn_off() {
	_c=$(od -An -tx2 -j 4 -N2 "/sys/bus/pci/devices/$1/config" | tr -d ' ')
	echo "# $1: enable $(cat "/sys/bus/pci/devices/$1/enable"), command 0x$_c"
	[ "$(cat "/sys/bus/pci/devices/$1/enable")" = 0 ] && [ $((0x$_c & 4)) = 0 ]
}
