# SPDX-License-Identifier: GPL-2.0
# In-guest tests run by "ridxd-dev test" in the normal and the debug guest kernel.
. /ridxd/tap.sh

dmesg_has() { dmesg | grep -q "$1"; }
not_loaded() { ! grep -q '^ridxd ' /proc/modules; }
loaded() { grep -q '^ridxd ' /proc/modules; }
pci_driver_registered() { [ -d /sys/bus/pci/drivers/ridxd ]; }
scalable_mode() { dmesg | grep -q 'DMAR: Intel(R) Virtualization Technology for Directed I/O' &&
	[ -e /sys/kernel/debug/iommu/intel/dmar_translation_struct ]; }
faux_dev() { [ -e "/sys/bus/faux/devices/$1" ]; }
no_faux_dev() { ! faux_dev "$1"; }

tap_plan 17
tap_check "intel-iommu is up" scalable_mode
tap_check "insmod ridxd" insmod /lib/modules/ridxd.ko
tap_check "ridxd is loaded" loaded
tap_check "load message in dmesg" dmesg_has "ridxd: Intel DSA driver (Rust)"
tap_check "PCI driver registered" pci_driver_registered
tap_check "rmmod ridxd" rmmod ridxd
tap_check "ridxd is gone" not_loaded
tap_check "unload message in dmesg" dmesg_has "ridxd: unloaded"
# Model devices: one DSA 1.0 and one DSA 2.0, probed through the same path as PCI devices.
tap_check "insmod ridxd sim_dsa1=1 sim_dsa2=1" insmod /lib/modules/ridxd.ko sim_dsa1=1 sim_dsa2=1
tap_check "faux device ridxd_sim0" faux_dev ridxd_sim0
tap_check "ridxd_sim0 probed as DSA 1.0 without event log" \
	dmesg_has "ridxd_sim0: DSA 1.0: 8 WQs (128 entries), 4 engines, 4 groups, event log: no, PRS disable: no"
tap_check "ridxd_sim1 probed as DSA 2.0 with event log" \
	dmesg_has "ridxd_sim1: DSA 2.0: 8 WQs (128 entries), 4 engines, 4 groups, event log: yes, PRS disable: yes"
tap_check "ridxd_sim0 enabled with the default configuration" \
	dmesg_has "ridxd_sim0: enabled: default configuration, event log 0"
tap_check "ridxd_sim1 enabled with a 64-entry event log" \
	dmesg_has "ridxd_sim1: enabled: default configuration, event log 64"
tap_check "rmmod ridxd with model devices" rmmod ridxd
tap_check "faux devices removed" no_faux_dev ridxd_sim0
tap_check "faux device ridxd_sim1 removed" no_faux_dev ridxd_sim1
tap_done
