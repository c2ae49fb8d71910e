# SPDX-License-Identifier: GPL-2.0
# The CR fault path's benchmark ("ridxd-dev bench", and part of "ridxd-dev test"): ridxd with
# one DSA 2.0 model device (dsa0, a 64-entry event log), PRS turned off on its shared WQ 1,
# then ridxd_bench. Each figure is printed as "BENCH <figure>" for the host to collect.
D=/sys/bus/dsa/devices
insmod "$RIDXD_KO" sim_dsa2=1 || exit 1
# Unbinding resets the WQ's attributes but size and group (as idxd): they are written again.
echo wq0.1 > $D/wq0.1/driver/unbind && echo 1 > $D/wq0.1/prs_disable &&
	echo 16 > $D/wq0.1/threshold && echo 1 > $D/wq0.1/priority && echo ridxd > $D/wq0.1/name &&
	echo wq0.1 > /sys/bus/dsa/drivers/user/bind || exit 1
/ridxd/selftests/ridxd_bench 0 1 > /tmp/bench.out 2>&1
rc=$?
sed 's/^/BENCH /' /tmp/bench.out
rmmod "$RIDXD_MOD" || exit 1
exit $rc
