# SPDX-License-Identifier: GPL-2.0
# The checks of dsa-idxd.sh (the C idxd driver on the project's QEMU intel-dsa devices), run
# with ridxd on the same devices through its PCI path.  Run by "ridxd-dev dsa-vm guest
# dsa-ridxd.sh".
DSA_DRIVER=ridxd
. /ridxd/dsa-idxd.sh
