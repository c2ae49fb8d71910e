/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading and writing ridxd's admin attributes:
 * /sys/kernel/debug/ridxd/dsa<DEV>/<REL> (Documentation/ABI/testing/debugfs-driver-ridxd).
 */
#ifndef RIDXD_ATTR_H
#define RIDXD_ATTR_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
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

/*
 * The ids K of WQ WQ's open files (wq<WQ>/file<K>/) whose pid is PID: up to MAX of them in
 * IDS; returns how many there are.
 */
static inline int ridxd_file_ids(const char *dev, int wq, pid_t pid, int *ids, int max)
{
	char path[128], rel[64];
	struct dirent *e;
	DIR *dir;
	int n = 0, k;

	snprintf(path, sizeof(path), RIDXD_DEBUGFS "/dsa%s/wq%d", dev, wq);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir))) {
		if (sscanf(e->d_name, "file%d", &k) != 1)
			continue;
		snprintf(rel, sizeof(rel), "wq%d/file%d/pid", wq, k);
		if (ridxd_attr_read(dev, rel) != pid)
			continue;
		if (n < max)
			ids[n] = k;
		n++;
	}
	closedir(dir);
	return n;
}

#endif
