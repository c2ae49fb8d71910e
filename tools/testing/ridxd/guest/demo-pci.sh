# SPDX-License-Identifier: GPL-2.0
# The main job on the project's QEMU intel-dsa device ("ridxd-dev demo --pci"): ridxd's PCI
# path instead of the model. Load ridxd (its PCI devices come up disabled, as under idxd),
# configure the DSA 2.0 device with accel-config (unmodified) as a user would: a dedicated WQ
# with PRS disabled (no shared WQ: TCG has no ENQCMD), copy a file through it with DSA
# memmoves whose CRs fault, and show what the driver did.
A=/sys/kernel/debug/ridxd
D=/sys/bus/dsa/devices
echo "--- IOMMU"
dmesg | grep -E 'DMAR: (Intel|IOMMU enabled|Enable scalable)|DMAR-IR' | sed 's/^/    /'
echo "--- PCI: the intel-dsa devices"
for p in /sys/bus/pci/devices/*; do
	[ "$(cat $p/vendor)" = 0x8086 ] && [ "$(cat $p/device)" = 0x0b25 ] &&
		echo "    $(basename $p): 8086:0b25 (DSA)"
done
echo "--- insmod ridxd.ko"
insmod "$RIDXD_KO" || exit 1
dmesg | grep -E 'ridxd [0-9a-f:.]+:' | sed 's/^/    /'
for d in $D/dsa[0-9]*; do
	evl=$(cat "$d/event_log_size" 2>/dev/null || echo "none")
	echo "    $(basename $d): below $(basename "$(dirname "$(readlink -f "$d")")"), version $(cat $d/version), $(cat $d/state), event_log_size $evl"
done
cat >/tmp/demo.conf <<'CONF'
[ { "dev":"dsa0",
    "groups":[ { "dev":"group0.0",
      "grouped_workqueues":[ { "dev":"wq0.0", "mode":"dedicated", "size":16, "group_id":0,
        "priority":10, "block_on_fault":0, "prs_disable":1, "type":"user",
        "driver_name":"user", "name":"demo" } ],
      "grouped_engines":[ { "dev":"engine0.0", "group_id":0 }, { "dev":"engine0.1", "group_id":0 } ] } ] } ]
CONF
echo "--- accel-config load-config -c /tmp/demo.conf -e   (dsa0: wq0.0 dedicated, PRS off)"
/ridxd/accfg.sh load-config -c /tmp/demo.conf -e 2>&1 | sed 's/^/    /'
/ridxd/accfg.sh list 2>/dev/null | grep -E '"(dev|mode|size|prs_disable|state)"' | sed 's/^/    /'
[ "$(cat $D/wq0.0/state)" = enabled ] || { echo "!!! wq0.0 is not enabled"; exit 1; }
echo "--- workload: /ridxd/selftests/ridxd_demo /bin/busybox 0 0"
/ridxd/selftests/ridxd_demo /bin/busybox 0 0 > /tmp/demo.out 2>&1
rc=$?
sed 's/^/    /' /tmp/demo.out
echo "--- event log of dsa0 (first entries)"
head -n 6 $A/dsa0/event_log | sed 's/^/    /'
echo "--- accel-config disable-device dsa0; rmmod ridxd"
/ridxd/accfg.sh disable-device dsa0 2>&1 | sed 's/^/    /'
rmmod "$RIDXD_MOD" || exit 1
echo "    $(ls $D 2>/dev/null | wc -l) nodes left on the dsa bus"
exit $rc
