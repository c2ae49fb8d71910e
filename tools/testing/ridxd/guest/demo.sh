# SPDX-License-Identifier: GPL-2.0
# The README's main job, in the guest: load ridxd and show what it did.
echo "--- IOMMU"
dmesg | grep -E 'DMAR: (Intel|IOMMU enabled|Enable scalable)|DMAR-IR' | sed 's/^/    /'
echo "--- insmod ridxd.ko"
t0=$(cut -d' ' -f1 /proc/uptime)
insmod /lib/modules/ridxd.ko || exit 1
t1=$(cut -d' ' -f1 /proc/uptime)
dmesg | grep 'ridxd' | sed 's/^/    /'
echo "--- PCI driver: $(ls -d /sys/bus/pci/drivers/ridxd 2>/dev/null || echo missing)"
echo "--- rmmod ridxd"
rmmod ridxd || exit 1
dmesg | grep 'ridxd' | tail -n1 | sed 's/^/    /'
echo "--- load took $(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }") s"
