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
int64_t zc__file_position(int fd);
int zc__pipe(int fds[2], int size_hint, int* capacity);
int zc__pipe_bytes(int fd);
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

/* Engine internals shared by job.c and loop.c. */
void zc__job_advance(zc_job_t* job);
void zc__job_run_offloaded(zc_job_t* job);              /* threadpool */
void zc__job_after_offload(zc_job_t* job, int canceled); /* loop thread */
void zc__job_finish(zc_job_t* job, int status, int failed_syscall);
/* Ends the job if `side` reports an error or (dst) a hang-up; returns the status or 0. */
int zc__job_check_side(zc_job_t* job, int side, int errors, int hangup);
int zc__loop_wait(zc_job_t* job, int want_src, int want_dst);
void zc__loop_queue_ready(zc_job_t* job);
int zc__loop_offload(zc_job_t* job);
void zc__loop_forget(zc_job_t* job); /* epoll DEL + bookkeeping, before the dups close */

#endif /* ZC_PLATFORM_H */
