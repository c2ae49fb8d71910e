/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading and writing ridxd's attributes, named as in debugfs REL paths relative to a device:
 *
 *   NAME               /sys/bus/dsa/devices/dsa<DEV>/NAME (idxd's sysfs ABI)
 *   wq<W>/NAME         /sys/bus/dsa/devices/wq<DEV>.<W>/NAME
 *   wq<W>/file<K>/NAME /sys/bus/dsa/devices/file<K>/NAME
 *   enable, wq<W>/enable   writing 1 binds the idxd (device) or user (WQ) driver, which
 *                      enables it; 0 unbinds it, which disables it
 *   device, event_log, mmap_delay_ms, wq<W>/file<K>/pasid   only in debugfs:
 *                      /sys/kernel/debug/ridxd/dsa<DEV>/REL
 *                      (Documentation/ABI/testing/debugfs-driver-ridxd)
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
#define RIDXD_SYSFS "/sys/bus/dsa"

/* The file REL of device DEV stands for, in PATH (LEN bytes). */
static inline void ridxd_attr_path(const char *dev, const char *rel, char *path, size_t len)
{
	int wq, k, n = 0;

	if (!strcmp(rel, "device") || !strcmp(rel, "event_log") || !strcmp(rel, "mmap_delay_ms") ||
	    (sscanf(rel, "wq%d/file%d/%n", &wq, &k, &n) == 2 && n && !strcmp(rel + n, "pasid")))
		snprintf(path, len, RIDXD_DEBUGFS "/dsa%s/%s", dev, rel);
	else if (n = 0, sscanf(rel, "wq%d/file%d/%n", &wq, &k, &n) == 2 && n)
		snprintf(path, len, RIDXD_SYSFS "/devices/file%d/%s", k, rel + n);
	else if (n = 0, sscanf(rel, "wq%d/%n", &wq, &n) == 1 && n)
		snprintf(path, len, RIDXD_SYSFS "/devices/wq%s.%d/%s", dev, wq, rel + n);
	else
		snprintf(path, len, RIDXD_SYSFS "/devices/dsa%s/%s", dev, rel);
}

/*
 * Reads the attribute into BUF (LEN bytes, NUL-terminated, trailing newline removed);
 * 0, or the negative errno opening or reading it failed with.
 */
static inline int ridxd_attr_read_str(const char *dev, const char *rel, char *buf, size_t len)
{
	char path[160];
	ssize_t n;
	int fd;

	buf[0] = 0;
	ridxd_attr_path(dev, rel, path, sizeof(path));
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

/* Writes VAL to the file PATH; 0, or the negative errno the write failed with. */
static inline int ridxd_write_file(const char *path, const char *val)
{
	int fd, n;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	n = n < 0 ? -errno : 0;
	close(fd);
	return n;
}

/*
 * Writes VAL to the attribute; "enable" binds ("1") or unbinds ("0") the driver. 0, or the
 * negative errno the write failed with.
 */
static inline int ridxd_attr_write(const char *dev, const char *rel, const char *val)
{
	char path[160], name[32];
	int wq, n = 0;

	if (!strcmp(rel, "enable") ||
	    (sscanf(rel, "wq%d/%n", &wq, &n) == 1 && n && !strcmp(rel + n, "enable"))) {
		const char *drv = n ? "user" : "idxd";

		if (n)
			snprintf(name, sizeof(name), "wq%s.%d", dev, wq);
		else
			snprintf(name, sizeof(name), "dsa%s", dev);
		if (!strcmp(val, "1"))
			snprintf(path, sizeof(path), RIDXD_SYSFS "/drivers/%s/bind", drv);
		else
			snprintf(path, sizeof(path), RIDXD_SYSFS "/devices/%s/driver/unbind", name);
		return ridxd_write_file(path, name);
	}
	ridxd_attr_path(dev, rel, path, sizeof(path));
	return ridxd_write_file(path, val);
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

/*
 * Reads counter NAME of device DEV's CR fault path (debugfs dsa<DEV>/fault_path, "name value"
 * lines); -1 if the file or the counter is not there.
 */
static inline long ridxd_fault_path_stat(const char *dev, const char *name)
{
	char path[128], line[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), RIDXD_DEBUGFS "/dsa%s/fault_path", dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char key[64];
		long val;

		if (sscanf(line, "%63s %ld", key, &val) == 2 && !strcmp(key, name))
			v = val;
	}
	fclose(f);
	return v;
}

#endif
