#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# accel-config, unmodified, run against ridxd: the CLI refuses to run unless /sys/module/idxd
# exists, that is unless a module named idxd is loaded (accfg/accel-config.c).  ridxd built as
# the idxd module (CONFIG_INTEL_IDXD_RUST_AS_IDXD: the debug guest kernel) is one, and then
# accel-config runs as it is.  Otherwise ridxd is a module of another name, and accel-config
# runs in a mount namespace of its own with an empty tmpfs on /sys/module holding an idxd
# directory.  Nothing else of accel-config looks there; its library (what dsa_test, DTO and
# DML use) does not check.
[ -d /sys/module/idxd ] && exec accel-config "$@"
exec unshare -m sh -c 'mount -t tmpfs none /sys/module && mkdir /sys/module/idxd &&
	exec accel-config "$@"' accel-config "$@"
