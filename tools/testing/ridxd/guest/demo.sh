# SPDX-License-Identifier: GPL-2.0
# The README's main job, in the guest: load ridxd with model devices and show what it did.
# (The user work-queue workload joins this demonstration as the driver core lands.)
echo "--- IOMMU"
dmesg | grep -E 'DMAR: (Intel|IOMMU enabled|Enable scalable)|DMAR-IR' | sed 's/^/    /'
echo "--- insmod ridxd.ko sim_dsa1=1 sim_dsa2=1   (one DSA 1.0 and one DSA 2.0 model device)"
t0=$(cut -d' ' -f1 /proc/uptime)
insmod /lib/modules/ridxd.ko sim_dsa1=1 sim_dsa2=1 || exit 1
t1=$(cut -d' ' -f1 /proc/uptime)
dmesg | grep -E 'ridxd(_sim[0-9]+)?:' | sed 's/^/    /'
echo "--- devices"
echo "    PCI driver:   $(ls -d /sys/bus/pci/drivers/ridxd 2>/dev/null || echo missing)"
for d in /sys/bus/faux/devices/ridxd_sim*; do
	echo "    model device: $d (driver: $(basename "$(readlink "$d/driver")"))"
done
echo "--- admin interface: /sys/kernel/debug/ridxd"
for d in /sys/kernel/debug/ridxd/dsa*; do
	n=$(basename "$d")
	evl=$(cat "$d/event_log_size" 2>/dev/null || echo "none")
	echo "    $n: $(cat "$d/device") version $(cat "$d/version") $(cat "$d/state"), event_log_size $evl"
	for w in "$d"/wq*; do
		[ "$(cat "$w/size")" = 0 ] && continue
		prs=$(cat "$w/prs_disable" 2>/dev/null || echo "n/a")
		echo "        $(basename "$w"): $(cat "$w/mode"), size $(cat "$w/size"), group $(cat "$w/group_id"), prs_disable $prs, $(cat "$w/state")"
	done
	[ -e "$d/event_log" ] && echo "        event_log: $(head -n1 "$d/event_log")"
done
echo "--- rmmod ridxd"
rmmod ridxd || exit 1
dmesg | grep -E 'ridxd(_sim[0-9]+)?:' | tail -n1 | sed 's/^/    /'
left=$(ls /sys/bus/faux/devices 2>/dev/null | grep -c ridxd_sim)
echo "    model devices left: $left"
echo "--- load and probe took $(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }") s"
[ "$left" = 0 ]
