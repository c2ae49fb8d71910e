// SPDX-License-Identifier: GPL-2.0
/*
 * ridxd_bench: figures of ridxd's completion-record (CR) fault path. Not a test: it prints
 * what it measured, one "name value ..." line per figure, and fails only when it could not
 * measure (or a CR was lost, written twice or wrongly).
 *
 *   ridxd_bench [DEV [WQ [latency]]]   defaults 1 1; WQ: a user WQ with PRS disabled
 *
 * With "latency", only the end-to-end latencies (2.) are measured: they need nothing but the
 * WQ's char device and write(), so they run under the C idxd driver as well (a dedicated WQ;
 * guest/dsa-compare.sh runs them under both drivers on the same QEMU device).
 *
 * 1. The driver's in-kernel benchmark (/sys/kernel/debug/ridxd/bench, see
 *    drivers/dma/ridxd/bench.rs), with this process's pages as the CR memory: the bare limit
 *    (mmget_not_zero + kthread_use_mm + a 32-byte copy), the fix-up cost per CR for runs of 1,
 *    16 and 1024 entries and its ratio to the limit, fix-ups per second with 1, 100 and 10,000
 *    contexts registered, and with 1, 4 and 16 processes fixing up at once.
 * 2. End to end through the WQ: the latency from write() returning to the CR's status byte
 *    visible, for no-op descriptors whose CR page was never touched (the device logs the CR,
 *    the driver writes it) and, for comparison, whose CR page is present (the device writes
 *    it). p50, p99 and max in microseconds.
 * 3. A burst of 100,000 CR faults through the device's event log: every CR written, none
 *    twice (the WQ's cr_faults counter rises by exactly that many), none lost, and the most
 *    entries the fault path held at once (its memory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/idxd.h>

#include "ridxd_attr.h"

#define PAGE 4096UL
#define BENCH RIDXD_DEBUGFS "/bench"
#define SAMPLES 2000
#define BURST 100000
#define BURST_PAGES 4000

static const char *dev, *wqs;
static int wq;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *pages(unsigned long n, int touch)
{
	char *p = mmap(NULL, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (touch)
		memset(p, 0, n * PAGE);
	return p;
}

/* Writes a command to the in-kernel benchmark; 0 or -1 (with a message). */
static int bench(const char *fmt, ...)
{
	char cmd[128];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = ridxd_write_file(BENCH, cmd);
	if (r) {
		fprintf(stderr, "ridxd_bench: '%s': %s\n", cmd, strerror(-r));
		return -1;
	}
	return 0;
}

/* P processes run "proc" at once for MS ms each; then the aggregate is reported. */
static int procs(int p, int ms)
{
	int go[2], rc = 0;
	pid_t pids[64];

	if (bench("procs-reset") || pipe(go))
		return -1;
	for (int i = 0; i < p; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -1;
		if (pids[i] == 0) {
			char *mem = pages(16, 1), c;

			close(go[1]);
			if (!mem || read(go[0], &c, 1) != 0)
				_exit(1);
			_exit(bench("proc %p 16 %d", (void *)mem, ms) ? 1 : 0);
		}
	}
	close(go[0]);
	close(go[1]); /* everyone starts now */
	for (int i = 0; i < p; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
			rc = -1;
	}
	return rc ? rc : bench("procs-report %d", p);
}

static int kernel_figures(void)
{
	char *mem = pages(64, 1), buf[4096];
	ssize_t n;
	int fd;

	if (!mem || bench("reset") || bench("fixup %p 64", (void *)mem))
		return -1;
	for (int p = 1; p <= 16; p *= 4)
		if (procs(p, 1000))
			return -1;
	fd = open(BENCH, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	fputs(buf, stdout);
	munmap(mem, 64 * PAGE);
	return 0;
}

static void noop_desc(struct dsa_hw_desc *d, void *cr)
{
	memset(d, 0, sizeof(*d));
	d->opcode = DSA_OPCODE_NOOP;
	d->flags = IDXD_OP_FLAG_CRAV | IDXD_OP_FLAG_RCR;
	d->completion_addr = (uintptr_t)cr;
}

/* Submits one descriptor, retrying while the shared WQ is full. */
static int submit(int fd, struct dsa_hw_desc *d)
{
	for (int tries = 0; tries < 200000; tries++) {
		if (write(fd, d, sizeof(*d)) == sizeof(*d))
			return 0;
		if (errno != EAGAIN)
			return -1;
		usleep(20);
	}
	return -1;
}

/* Waits (10 s at most) for the CR's status byte; returns it, 0 on timeout. */
static uint8_t wait_status(volatile uint8_t *status)
{
	double end = now() + 10;

	while (!*status && now() < end)
		;
	return *status;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int latency(int fd, int fault)
{
	static double lat[SAMPLES];
	char *crs = pages(fault ? SAMPLES : 1, !fault);
	struct dsa_hw_desc d;

	if (!crs)
		return -1;
	for (int i = 0; i < SAMPLES; i++) {
		volatile uint8_t *cr = (void *)(crs + (fault ? i * PAGE : 0));
		double t0;

		if (!fault)
			memset((void *)cr, 0, 32);
		noop_desc(&d, (void *)cr);
		if (submit(fd, &d))
			return -1;
		t0 = now();
		if (wait_status(cr) != DSA_COMP_SUCCESS) {
			fprintf(stderr, "ridxd_bench: latency sample %d: status %#x\n", i, *cr);
			return -1;
		}
		lat[i] = (now() - t0) * 1e6;
	}
	qsort(lat, SAMPLES, sizeof(lat[0]), cmp_double);
	printf("latency_%s_us p50 %.0f p99 %.0f max %.0f (%d samples)\n",
	       fault ? "fault" : "present", lat[SAMPLES / 2], lat[SAMPLES * 99 / 100],
	       lat[SAMPLES - 1], SAMPLES);
	munmap(crs, (fault ? SAMPLES : 1) * PAGE);
	return 0;
}

/* Reads NAME from the device's debugfs fault_path file. */
static long fault_path_stat(const char *name)
{
	return ridxd_fault_path_stat(dev, name);
}

static int burst(int fd)
{
	char *crs = pages(BURST_PAGES, 0), rel[64];
	unsigned long written = 0, wrong = 0, missing = 0;
	long faults0, fails0, faults1, fails1, lost0;
	struct dsa_hw_desc d;
	double t0;

	if (!crs)
		return -1;
	snprintf(rel, sizeof(rel), "wq%d/cr_faults", wq);
	faults0 = ridxd_attr_read(dev, rel);
	snprintf(rel, sizeof(rel), "wq%d/cr_fault_failures", wq);
	fails0 = ridxd_attr_read(dev, rel);
	lost0 = fault_path_stat("lost");
	t0 = now();
	for (int done = 0; done < BURST; done += BURST_PAGES) {
		/* Every CR page absent again: each CR of the round faults. */
		if (madvise(crs, BURST_PAGES * PAGE, MADV_DONTNEED))
			return -1;
		for (int i = 0; i < BURST_PAGES; i++) {
			noop_desc(&d, crs + i * PAGE);
			if (submit(fd, &d))
				return -1;
		}
		for (int i = 0; i < BURST_PAGES; i++) {
			uint8_t s = wait_status((volatile uint8_t *)(crs + i * PAGE));

			if (s == DSA_COMP_SUCCESS)
				written++;
			else if (s)
				wrong++;
			else
				missing++;
		}
	}
	snprintf(rel, sizeof(rel), "wq%d/cr_fault_failures", wq);
	fails1 = ridxd_attr_read(dev, rel);
	/* A counter lags the status byte it counts a little. */
	snprintf(rel, sizeof(rel), "wq%d/cr_faults", wq);
	faults1 = ridxd_attr_read(dev, rel);
	for (int i = 0; i < 5000 && faults1 - faults0 < (long)written; i++) {
		usleep(1000);
		faults1 = ridxd_attr_read(dev, rel);
	}
	printf("burst %d CR faults through a %ld-entry event log in %.1f s: written %lu, wrong %lu, "
	       "missing %lu, counted %ld, failures %ld, lost %ld; fault path: peak %ld of %ld entries "
	       "pending (at most %ld bytes of queues), back-pressure %ld, mm adoptions %ld\n",
	       BURST, ridxd_attr_read(dev, "event_log_size"), now() - t0, written, wrong, missing,
	       faults1 - faults0, fails1 - fails0, fault_path_stat("lost") - lost0,
	       fault_path_stat("peak_pending"), fault_path_stat("max_pending"),
	       fault_path_stat("peak_pending") * 64 * 2, fault_path_stat("backpressure"),
	       fault_path_stat("mm_uses"));
	munmap(crs, BURST_PAGES * PAGE);
	return written == BURST && faults1 - faults0 == BURST && fails1 == fails0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	char node[64];
	int fd, rc = 0, only_latency;

	dev = argc > 1 ? argv[1] : "1";
	wqs = argc > 2 ? argv[2] : "1";
	wq = atoi(wqs);
	only_latency = argc > 3 && !strcmp(argv[3], "latency");
	if (argc > 4 || (argc > 3 && !only_latency)) {
		fprintf(stderr, "usage: ridxd_bench [DEV [WQ [latency]]]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!only_latency && kernel_figures()) {
		fprintf(stderr, "ridxd_bench: the in-kernel benchmark failed\n");
		rc = 1;
	}
	snprintf(node, sizeof(node), "/dev/dsa/wq%s.%s", dev, wqs);
	fd = open(node, O_RDWR);
	if (fd < 0) {
		perror(node);
		return 1;
	}
	if (latency(fd, 1) || latency(fd, 0)) {
		fprintf(stderr, "ridxd_bench: latency could not be measured\n");
		rc = 1;
	}
	if (!only_latency && burst(fd)) {
		fprintf(stderr, "ridxd_bench: the burst lost, repeated or failed CRs\n");
		rc = 1;
	}
	close(fd);
	return rc;
}
