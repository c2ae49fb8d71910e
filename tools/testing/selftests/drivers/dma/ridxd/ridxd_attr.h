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

/*
 * Reads the attribute into BUF (LEN bytes, NUL-terminated, trailing newline removed);
 * 0, or the negative errno opening or reading it failed with.
 */
static inline int ridxd_attr_read_str(const char *dev, const char *rel, char *buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	buf[0] = 0;
	snprintf(path, sizeof(path), RIDXD_DEBUGFS "/dsa%s/%s", dev, rel);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	n = n < 0 ? -errno : n;
	close(fd);
	if (n < 0)
		return n;
	buf[n] = 0;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* The attribute's value as a decimal number; -1 if it cannot be read. */
static inline long ridxd_attr_read(const char *dev, const char *rel)
{
	char buf[32];

	if (ridxd_attr_read_str(dev, rel, buf, sizeof(buf)))
		return -1;
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
