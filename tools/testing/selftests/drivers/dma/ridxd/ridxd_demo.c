// SPDX-License-Identifier: GPL-2.0
/*
 * ridxd demonstration: copy a file with DSA memmoves through a user work queue.
 *
 *   ridxd_demo [FILE [DEV [WQ]]]      defaults: /bin/busybox, 1, 1
 *
 * The file is copied in 4 KiB memmoves submitted with write() to /dev/dsa/wq<DEV>.<WQ>, each
 * descriptor's completion record (CR) in a page of its own that was never touched. With PRS
 * disabled on the WQ the device cannot write those CRs: it completes the descriptors anyway,
 * logs the CRs in its event log, and the driver writes them into this process's memory. The
 * destination is not touched beforehand either: a destination page that is not present ends a
 * memmove in partial completion, and, as an application must, the program touches the page
 * and submits the rest again. On a dedicated WQ, whose portal drops what it has no room for
 * (MOVDIR64B gets no answer), at most the WQ's size descriptors are in flight.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/idxd.h>

#include "ridxd_attr.h"

#define PAGE 4096UL
#define CHUNK 4096UL

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Submits one descriptor, retrying while the shared WQ is full. */
static int submit(int fd, struct dsa_hw_desc *d)
{
	for (int tries = 0; tries < 100000; tries++) {
		if (write(fd, d, sizeof(*d)) == sizeof(*d))
			return 0;
		if (errno != EAGAIN)
			return -1;
		usleep(50);
	}
	return -1;
}

int main(int argc, char **argv)
{
	const char *file = argc > 1 ? argv[1] : "/bin/busybox";
	const char *dev = argc > 2 ? argv[2] : "1";
	const char *wq = argc > 3 ? argv[3] : "1";
	char node[64], rel[32];
	struct stat st;
	unsigned long n, partial = 0, bad = 0, resubmits = 0;
	long faults0;
	double t0, t1;
	char *src, *dst, *crs;
	int fd, in;

	in = open(file, O_RDONLY);
	if (in < 0 || fstat(in, &st) < 0 || st.st_size == 0) {
		perror(file);
		return 1;
	}
	n = (st.st_size + CHUNK - 1) / CHUNK;
	src = malloc(n * CHUNK);
	dst = mmap(NULL, n * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	crs = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!src || dst == MAP_FAILED || crs == MAP_FAILED) {
		perror("memory");
		return 1;
	}
	memset(src, 0, n * CHUNK);
	if (read(in, src, st.st_size) != st.st_size) {
		perror("read");
		return 1;
	}
	close(in);

	snprintf(node, sizeof(node), "/dev/dsa/wq%s.%s", dev, wq);
	fd = open(node, O_RDWR);
	if (fd < 0) {
		perror(node);
		return 1;
	}
	/* This file's own counters: wq<W>/file<K>/, K found by this process's pid. */
	int k;

	if (ridxd_file_ids(dev, atoi(wq), getpid(), &k, 1) != 1) {
		fprintf(stderr, "no file<K> directory for this process under wq%s\n", wq);
		return 1;
	}
	snprintf(rel, sizeof(rel), "wq%s/file%d/cr_faults", wq, k);
	faults0 = ridxd_attr_read(dev, rel);
	snprintf(rel, sizeof(rel), "wq%s/prs_disable", wq);
	printf("copying %s: %lld bytes in %lu memmoves of %lu bytes via %s (prs_disable %ld)\n",
	       file, (long long)st.st_size, n, CHUNK, node, ridxd_attr_read(dev, rel));
	printf("every CR in a never-touched page; the destination never touched either\n");
	char mode[16] = "";

	snprintf(rel, sizeof(rel), "wq%s/mode", wq);
	ridxd_attr_read_str(dev, rel, mode, sizeof(mode));
	snprintf(rel, sizeof(rel), "wq%s/size", wq);
	long window = strcmp(mode, "dedicated") ? 0 : ridxd_attr_read(dev, rel);

	if (!strcmp(mode, "dedicated") && window <= 0) {
		fprintf(stderr, "%s: dedicated, but its size reads %ld\n", node, window);
		return 1;
	}
	t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		struct dsa_hw_desc d = { 0 };

		/* A dedicated WQ: descriptor i - window has left it once its CR is written. */
		if (window && i >= (unsigned long)window) {
			volatile uint8_t *st = (void *)(crs + (i - window) * PAGE);

			for (int spins = 0; !*st && spins < 2000000; spins++)
				usleep(1);
		}

		d.opcode = DSA_OPCODE_MEMMOVE;
		d.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
		d.src_addr = (uintptr_t)(src + i * CHUNK);
		d.dst_addr = (uintptr_t)(dst + i * CHUNK);
		d.xfer_size = CHUNK;
		d.completion_addr = (uintptr_t)(crs + i * PAGE);
		if (submit(fd, &d)) {
			perror("write");
			return 1;
		}
	}
	/* Collect; finish partial completions by touching the page and submitting the rest. */
	for (unsigned long i = 0; i < n; i++) {
		volatile struct dsa_completion_record *cr = (void *)(crs + i * PAGE);
		unsigned long done = 0;

		for (;;) {
			int spins = 0;

			while (!cr->status && spins++ < 2000000)
				usleep(1);
			if (cr->status == DSA_COMP_SUCCESS)
				break;
			if ((cr->status & DSA_COMP_STATUS_MASK) != DSA_COMP_PAGE_FAULT_NOBOF) {
				bad++;
				break;
			}
			struct dsa_hw_desc d = { 0 };

			partial++;
			done += cr->bytes_completed;
			*(volatile char *)(uintptr_t)cr->fault_addr = 0; /* fault the page in */
			d.opcode = DSA_OPCODE_MEMMOVE;
			d.flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
			d.src_addr = (uintptr_t)(src + i * CHUNK + done);
			d.dst_addr = (uintptr_t)(dst + i * CHUNK + done);
			d.xfer_size = CHUNK - done;
			d.completion_addr = (uintptr_t)cr;
			cr->status = 0;
			resubmits++;
			if (submit(fd, &d)) {
				perror("write");
				return 1;
			}
		}
	}
	t1 = now();

	/* The driver counts a record just after writing it: let the count settle. */
	snprintf(rel, sizeof(rel), "wq%s/file%d/cr_faults", wq, k);
	long fixed = ridxd_attr_read(dev, rel), prev;

	do {
		prev = fixed;
		usleep(10000);
		fixed = ridxd_attr_read(dev, rel);
	} while (fixed != prev);
	fixed -= faults0;
	snprintf(rel, sizeof(rel), "wq%s/file%d/cr_fault_failures", wq, k);
	long failed = ridxd_attr_read(dev, rel);
	int same = memcmp(src, dst, st.st_size) == 0;

	printf("descriptors:              %lu submitted, %lu resubmitted after partial completion\n",
	       n, resubmits);
	printf("partial completions:      %lu (destination page not present)\n", partial);
	printf("CRs written by the driver: %ld (dsa%s/wq%s/file%d/cr_faults), %ld failed\n",
	       fixed, dev, wq, k, failed);
	printf("errors:                   %lu\n", bad);
	printf("data:                     %s\n", same ? "identical to the source" : "DIFFERENT");
	printf("time:                     %.3f s (%.1f MiB/s under QEMU TCG: not a hardware figure)\n",
	       t1 - t0, st.st_size / (t1 - t0) / (1 << 20));
	close(fd);
	return same && !bad && fixed > 0 ? 0 : 1;
}
