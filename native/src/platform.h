/*
 * Private prototypes: one wrapper per syscall, plus the engine's internal hooks.
 * Every wrapper retries EINTR and returns >= 0 or -errno; none decides anything.
 */
#ifndef ZC_PLATFORM_H
#define ZC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../include/zc.h"

/* Linux caps every read/write-like call at MAX_RW_COUNT (INT_MAX rounded down to a page). */
#define ZC_MAX_RW_BYTES ((size_t)0x7ffff000)

ssize_t zc__sendfile(int out_fd, int in_fd, int64_t* offset, size_t count);
ssize_t zc__splice(int in_fd, int64_t* in_offset, int out_fd, size_t count);
ssize_t zc__tee(int in_fd, int out_fd, size_t count);
ssize_t zc__copy_file_range(int in_fd, int64_t* in_offset, int out_fd, int64_t* out_offset,
                            size_t count);
ssize_t zc__read(int fd, void* buf, size_t count, int64_t* offset);
ssize_t zc__write(int fd, const void* buf, size_t count, int is_socket, int more);
int zc__dup(int fd);
void zc__close(int fd);
int zc__fstat_size(int fd, int64_t* size);
int zc__file_type(int fd);
#define ZC_VERSION_SLOTS 8
int zc__stat_version_at(int dirfd, const char* path, double out[ZC_VERSION_SLOTS]);
int zc__fstat_version(int fd, double out[ZC_VERSION_SLOTS]);
int64_t zc__file_position(int fd);
int zc__pipe(int fds[2], int size_hint, int* capacity);
int zc__pipe_bytes(int fd);
ssize_t zc__pread_cached(int fd, void* buf, size_t count, int64_t offset);
int zc__socket_error(int fd);

/* What zc__poll_pair reports per fd (poll(2) revents, reduced). */
#define ZC_POLL_IN 1
#define ZC_POLL_OUT 2
#define ZC_POLL_ERROR 4
#define ZC_POLL_HANGUP 8
int zc__poll_pair(int fd_in, int* in_events, int fd_out, int* out_events);
int zc__set_cork(int fd, int on);
int zc__fadvise(int fd, int64_t offset, int64_t length, int advice);
int64_t zc__cached_bytes(int fd, int64_t offset, int64_t length);
int zc__is_cached(int fd, int64_t offset, size_t length, size_t stride);
int zc__openat2(int dirfd, const char* path, int flags, int mode, uint64_t resolve);

struct iovec;
ssize_t zc__sendmsg(int fd, const struct iovec* iov, int iov_count, int zerocopy);
int zc__enable_zerocopy(int fd);
int zc__read_zerocopy_completion(int fd, uint32_t* lo, uint32_t* hi, int* copied);
ssize_t zc__vmsplice(int pipe_wr, const void* buf, size_t length);
int zc__disconnect(int fd);

/* Engine internals shared by job.c and loop.c. */
void zc__job_advance(zc_job_t* job);
void zc__job_run_offloaded(zc_job_t* job);              /* threadpool */
void zc__job_after_offload(zc_job_t* job, int canceled); /* loop thread */
void zc__job_finish(zc_job_t* job, int status, int failed_syscall);
/* Ends the job if `side` reports an error or (dst) a hang-up; returns the status or 0. */
int zc__job_check_side(zc_job_t* job, int side, int errors, int hangup);
/* Parks the job on sides seen blocked just now: their ready flags are cleared. */
int zc__loop_wait(zc_job_t* job, int want_src, int want_dst);
/* Parks the job on sides whose ready flags were cleared when they were seen
 * blocked (earlier in this run): an edge that came since still counts. */
int zc__loop_park(zc_job_t* job, int want_src, int want_dst);
void zc__loop_queue_ready(zc_job_t* job);
int zc__loop_offload(zc_job_t* job);
void zc__loop_forget(zc_job_t* job); /* epoll DEL + bookkeeping, before the dups close */
/* Registers a side in the epoll set now (edges from then on set *_ready and,
 * for a send job's dst, errqueue_ready) without parking the job. */
int zc__loop_watch(zc_job_t* job, int side);

/* Send jobs (zerocopy_send.c). */
static inline int zc__is_send_mode(int mode) {
  return mode == ZC_MODE_SEND || mode == ZC_MODE_URING_SEND;
}
void zc__send_advance(zc_job_t* job);
/* zc_job_cancel for a send job: returns 1 when the job goes on until the kernel
 * has let go of its memory (it then ends with ZC_STATUS_CANCELED), 0 when it
 * may end now. */
int zc__send_cancel(zc_job_t* job);

/* io_uring (uring.c): one ring per engine loop, opened on first use and
 * watched through the same epoll set. */
typedef struct zc_uring_s zc_uring_t;
/* The loop's ring, opened (and added to the epoll set) on first use; -errno
 * when io_uring is unavailable (ENOSYS, EPERM from seccomp or
 * kernel.io_uring_disabled). */
int zc__loop_uring(zc_loop_t* loop, zc_uring_t** out);
int zc__uring_open(zc_uring_t** out, unsigned entries);
void zc__uring_close(zc_uring_t* ring);
int zc__uring_fd(const zc_uring_t* ring);
/* Queues one send (SEND_ZC with usage reports when zerocopy, else SEND) of
 * [buf, buf+length) to fd, and submits it. user_data comes back in its CQEs. */
int zc__uring_send(zc_uring_t* ring, int fd, const void* buf, size_t length, int zerocopy, uint64_t user_data);
/* Asks the kernel to cancel the request carrying user_data (its CQEs still come). */
int zc__uring_cancel(zc_uring_t* ring, uint64_t user_data);
typedef void (*zc_uring_cqe_cb)(uint64_t user_data, int32_t res, uint32_t flags);
/* Calls cb for every CQE ready (flushing an overflowed CQ), returns how many. */
unsigned zc__uring_reap(zc_uring_t* ring, zc_uring_cqe_cb cb);
/* io_uring CQE flags and results the send path reads (io_uring.h, 5.1 / 6.0 / 6.2). */
#define ZC_URING_CQE_F_MORE (1U << 1)
#define ZC_URING_CQE_F_NOTIF (1U << 3)
#define ZC_URING_NOTIF_USAGE_ZC_COPIED (1U << 31)
/* Called by the loop for each CQE (zerocopy_send.c). */
void zc__send_on_cqe(uint64_t user_data, int32_t res, uint32_t flags);
/* The loop's list of io_uring send requests still in the kernel (zerocopy_send.c owns the type). */
void** zc__loop_send_requests(zc_loop_t* loop);
/* Frees what the send path keeps per io_uring request still in the kernel
 * (environment teardown, after the ring closed: their CQEs will never be read). */
void zc__send_forget_requests(zc_loop_t* loop);

/* Capability probes (probe.c): each makes what it needs, tries, and closes it. */
typedef struct {
  int status;            /* 0, or -errno from io_uring_setup / io_uring_register */
  uint32_t features;     /* IORING_FEAT_* */
  int last_op;           /* highest opcode the kernel knows */
  int send_zc, sendmsg_zc, splice; /* 1 supported, 0 not */
  int send_zc_usage;     /* 0: SEND_ZC reports copies (IORING_SEND_ZC_REPORT_USAGE, 6.2); -errno: not */
} zc_uring_probe_t;
void zc__probe_uring(zc_uring_probe_t* out);
int zc__probe_so_zerocopy(int type);       /* SOCK_STREAM (TCP) or SOCK_DGRAM (UDP) */
int zc__probe_ktls(void);                  /* TCP_ULP "tls": 0 available, -ENOENT not */
int zc__probe_vmsplice(void);
int zc__probe_cachestat(int fd);
int zc__probe_pipe_capacity(int size_hint);
/* SIOCETHTOOL legacy gets: scatter-gather, TX checksum, TSO, GSO (1/0, or -errno). */
int zc__probe_ethtool(const char* ifname, int out[4]);
#endif /* ZC_PLATFORM_H */
