# SPDX-License-Identifier: GPL-2.0
# The README's main job, in the guest: load ridxd with model devices, configure a user WQ with
# PRS disabled, copy a file through it with DSA memmoves, and show what the driver did.
A=/sys/kernel/debug/ridxd
B=/sys/bus/dsa
D=$B/devices
echo "--- IOMMU"
dmesg | grep -E 'DMAR: (Intel|IOMMU enabled|Enable scalable)|DMAR-IR' | sed 's/^/    /'
echo "--- insmod ridxd.ko sim_dsa1=1 sim_dsa2=1   (one DSA 1.0 and one DSA 2.0 model device)"
insmod "$RIDXD_KO" sim_dsa1=1 sim_dsa2=1 || exit 1
dmesg | grep -E 'ridxd(_sim[0-9]+)?:' | sed 's/^/    /'
echo "--- the idxd sysfs ABI: $D"
for d in $D/dsa[0-9]*; do
	n=$(basename "$d")
	evl=$(cat "$d/event_log_size" 2>/dev/null || echo "none")
	echo "    $n: below $(basename "$(dirname "$(readlink -f "$d")")"), version $(cat "$d/version") $(cat "$d/state"), event_log_size $evl"
done
echo "--- dsa1 wq1.1 (shared): turn PRS off (unbind the user driver, set prs_disable, bind it;"
echo "    unbinding resets a WQ's attributes but size and group, as idxd: they are set again)"
echo wq1.1 > $D/wq1.1/driver/unbind && echo 1 > $D/wq1.1/prs_disable &&
	echo 16 > $D/wq1.1/threshold && echo 1 > $D/wq1.1/priority && echo ridxd > $D/wq1.1/name &&
	echo wq1.1 > $B/drivers/user/bind || exit 1
for w in $D/wq1.0 $D/wq1.1; do
	echo "    $(basename "$w"): $(cat "$w/mode"), size $(cat "$w/size"), prs_disable $(cat "$w/prs_disable"), $(cat "$w/state") -> /dev/dsa/$(basename "$w")"
done
echo "--- workload: /ridxd/selftests/ridxd_demo /bin/busybox 1 1"
/ridxd/selftests/ridxd_demo /bin/busybox 1 1 | sed 's/^/    /'
rc=$?
[ -x /ridxd/selftests/ridxd_demo ] || rc=1
echo "--- event log of dsa1 (first entries)"
head -n 6 $A/dsa1/event_log | sed 's/^/    /'
echo "    ... $(($(wc -l < $A/dsa1/event_log) - 1)) entries in the ring"
echo "--- rmmod ridxd"
rmmod "$RIDXD_MOD" || exit 1
left=$(ls /sys/bus/faux/devices 2>/dev/null | grep -c ridxd_sim)
echo "    model devices left: $left"
[ "$left" = 0 ] && [ "$rc" = 0 ]
