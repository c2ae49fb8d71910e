/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading and writing ridxd's admin attributes:
 * /sys/kernel/debug/ridxd/dsa<DEV>/<REL> (Documentation/ABI/testing/debugfs-driver-ridxd).
 */
#ifndef RIDXD_ATTR_H
#define RIDXD_ATTR_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RIDXD_DEBUGFS "/sys/kernel/debug/ridxd"

/* The attribute's value as a decimal number; -1 if it cannot be read. */
static inline long ridxd_attr_read(const char *dev, const char *rel)
{
	char path[128], buf[32] = "";
	int fd;

	snprintf(path, sizeof(path), RIDXD_DEBUGFS "/dsa%s/%s", dev, rel);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = 0;
	close(fd);
	return strtol(buf, NULL, 10);
}

/* Writes VAL to the attribute; 0, or the negative errno the write failed with. */
static inline int ridxd_attr_write(const char *dev, const char *rel, const char *val)
{
	char path[128];
	int fd, n;

	snprintf(path, sizeof(path), RIDXD_DEBUGFS "/dsa%s/%s", dev, rel);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

#endif
