# SPDX-License-Identifier: GPL-2.0
# In-guest tests run by "ridxd-dev test" in the normal and the debug guest kernel.
. /ridxd/tap.sh

dmesg_has() { dmesg | grep -q "$1"; }
not_loaded() { ! grep -q '^ridxd ' /proc/modules; }
loaded() { grep -q '^ridxd ' /proc/modules; }
pci_driver_registered() { [ -d /sys/bus/pci/drivers/ridxd ]; }
scalable_mode() { dmesg | grep -q 'DMAR: Intel(R) Virtualization Technology for Directed I/O' &&
	[ -e /sys/kernel/debug/iommu/intel/dmar_translation_struct ]; }

tap_plan 8
tap_check "intel-iommu is up" scalable_mode
tap_check "insmod ridxd" insmod /lib/modules/ridxd.ko
tap_check "ridxd is loaded" loaded
tap_check "load message in dmesg" dmesg_has "ridxd: Intel DSA driver (Rust)"
tap_check "PCI driver registered" pci_driver_registered
tap_check "rmmod ridxd" rmmod ridxd
tap_check "ridxd is gone" not_loaded
tap_check "unload message in dmesg" dmesg_has "ridxd: unloaded"
tap_done
