/*
 * zerocopy native engine: public C API.
 *
 * The engine moves bytes between two file descriptors with sendfile(2),
 * splice(2), tee(2) or read/write, one non-blocking step at a time, and waits
 * for readiness in a private epoll instance that libuv watches through a
 * single uv_poll_t. It makes no decisions: the caller chooses the mode, the
 * fds, the limits and what an error means. No Node-API types appear here.
 *
 * Ownership: zc_job_start() dup()s src_fd and dst_fd; the job owns those dups
 * and closes them when it ends, so a descriptor closed (and reused) by its
 * original owner can never receive bytes from the job. Pipe fds given in
 * pipe_rd/pipe_wr are borrowed: the caller keeps them open until done_cb.
 *
 * Send jobs (ZC_MODE_SEND, ZC_MODE_URING_SEND) have no source fd: they send
 * caller memory (`buffers`, borrowed until done_cb) to dst_fd. A buffer sent
 * with zero-copy is read by the kernel after the call that took it returns;
 * such a job ends only once the kernel has reported every zero-copy send
 * complete (done_cb is the moment the memory may change), also after a
 * failure or zc_job_cancel().
 */
#ifndef ZC_H
#define ZC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zc_loop_s zc_loop_t;
typedef struct zc_job_s zc_job_t;
typedef void (*zc_job_cb)(zc_job_t* job);

typedef enum {
  ZC_MODE_SENDFILE = 1, /* sendfile(dst, src): src supports mmap-like reads */
  ZC_MODE_SPLICE = 2,   /* splice; through pipe_rd/pipe_wr when neither end is a pipe */
  ZC_MODE_TEE = 3,      /* one tee(src, dst): both pipes; completes after one success */
  ZC_MODE_COPY = 4,     /* read/pread into a job buffer, then write/send */
  ZC_MODE_SEND = 5,     /* buffers to a socket by sendmsg; MSG_ZEROCOPY for zerocopy buffers */
  ZC_MODE_URING_SEND = 6 /* buffers to a socket by io_uring SEND_ZC (zerocopy buffers) or SEND */
} zc_mode_t;

/* One piece of caller memory for a send job. */
typedef struct {
  const char* base;
  size_t length;
  int zerocopy; /* 1: MSG_ZEROCOPY / SEND_ZC (pinned, completion awaited); 0: copied by the call */
} zc_buffer_t;

typedef enum {
  ZC_SRC_REGULAR = 1 << 0,   /* regular file: never polled, page residency checked */
  ZC_DST_SOCKET = 1 << 1,    /* head and copies use send(MSG_NOSIGNAL) */
  ZC_DST_REGULAR = 1 << 2,   /* regular file: never polled */
  ZC_HEAD_MORE = 1 << 3,     /* send the head with MSG_MORE: body bytes are known to follow */
  /* With an internal pipe: read into the copy buffer first (copy_buffer_size
   * bytes); a message that fits is sent from there, one that fills it is
   * spliced from then on (HAProxy's splice-auto). */
  ZC_SMALL_COPY = 1 << 4,
  /* ZC_MODE_SEND: set SO_ZEROCOPY on dst before the first byte (a refusal
   * ends the job with ZC_SYS_SETSOCKOPT and nothing sent). */
  ZC_ENABLE_ZEROCOPY = 1 << 5
} zc_job_flags_t;

/* Final job status, besides a negative errno. */
typedef enum {
  ZC_STATUS_OK = 0,       /* length reached, or EOF when length was -1 */
  ZC_STATUS_EOF = 1,      /* src ended before length bytes */
  ZC_STATUS_CANCELED = 2  /* zc_job_cancel() */
} zc_status_t;

/* Which call produced a negative status (index into the binding's name table). */
typedef enum {
  ZC_SYS_NONE = 0,
  ZC_SYS_SENDFILE,
  ZC_SYS_SPLICE,
  ZC_SYS_TEE,
  ZC_SYS_READ,
  ZC_SYS_WRITE,
  ZC_SYS_SEND,
  ZC_SYS_EPOLL_CTL,
  ZC_SYS_DUP,
  ZC_SYS_MALLOC,
  ZC_SYS_QUEUE_WORK,
  ZC_SYS_POLL,
  ZC_SYS_GETSOCKOPT,
  ZC_SYS_SENDMSG,
  ZC_SYS_SETSOCKOPT,
  ZC_SYS_RECVMSG,
  ZC_SYS_IO_URING_SETUP,
  ZC_SYS_IO_URING_ENTER,
  ZC_SYS_SEND_ZC
} zc_syscall_t;

/* Which of the job's two descriptors a failure concerns. */
typedef enum { ZC_SIDE_NONE = 0, ZC_SIDE_SRC = 1, ZC_SIDE_DST = 2 } zc_side_t;

typedef enum {
  ZC_JOB_NEW = 0,
  ZC_JOB_RUNNING,    /* inside zc__job_advance */
  ZC_JOB_POLLING,    /* armed in the epoll set */
  ZC_JOB_QUEUED,     /* on the ready list after spending its budget */
  ZC_JOB_OFFLOADED,  /* one step running on the libuv threadpool */
  ZC_JOB_DONE
} zc_job_state_t;

/* What a send job's zero-copy sends came to, as the kernel reported it. */
typedef struct {
  uint64_t sends;          /* MSG_ZEROCOPY calls / SEND_ZC requests that took bytes: each owes a completion */
  uint64_t completions;    /* completions received for them (sends when the job ends normally) */
  int64_t bytes;           /* bytes those sends took */
  int64_t copied_bytes;    /* of those, bytes whose completion said the kernel copied them after all */
  uint32_t enobufs;        /* ENOBUFS answers (optmem_max or RLIMIT_MEMLOCK exhausted) */
  int64_t enobufs_copied;  /* bytes sent by copy because ENOBUFS came with no completion to wait for */
} zc_send_stats_t;

struct zc_job_s {
  /* Set by the caller before zc_job_start(). */
  int mode;
  unsigned flags;
  int src_fd;             /* dup()ed at start */
  int dst_fd;             /* dup()ed at start */
  int pipe_rd;            /* borrowed; -1 unless splicing between two non-pipes */
  int pipe_wr;
  size_t pipe_capacity;   /* bytes the pipe holds (F_GETPIPE_SZ) */
  int64_t src_offset;     /* -1: read from and advance the file position */
  int64_t remaining;      /* bytes still to take from src; -1: until EOF */
  size_t budget;          /* bytes per wakeup before yielding to the loop */
  size_t copy_buffer_size;/* ZC_MODE_COPY, or ZC_SMALL_COPY */
  /* Cold-page policy for a ZC_SRC_REGULAR source (0 turns the check off):
   * before a read, this many bytes ahead (at most) are checked for page-cache
   * residency, and a miss runs that one read on the threadpool. Where the
   * exact count (cachestat) is unavailable, one probe per cache_probe_stride. */
  int64_t cache_window;
  size_t cache_probe_stride;
  /* ZC_MODE_SEND / ZC_MODE_URING_SEND: what to send (remaining = their total). */
  const zc_buffer_t* buffers;
  size_t buffer_count;
  /* ZC_MODE_SEND: the socket's next MSG_ZEROCOPY notification id (the kernel
   * numbers a socket's successful zero-copy calls from 0); the job leaves the
   * next one here when it ends. */
  uint32_t zc_next_id;
  const char* head;       /* optional bytes written to dst before the body */
  size_t head_length;
  zc_job_cb done_cb;      /* called once, on the loop thread */
  void* data;

  /* Results, valid in done_cb (moved and head_sent are live). */
  int64_t moved;          /* body bytes delivered to dst */
  int64_t copied;         /* of those, bytes a ZC_SMALL_COPY job sent from its buffer */
  size_t head_sent;
  int64_t in_pipe;        /* bytes left in the internal pipe: exact, offloaded steps
                             included (nonzero at the end: the pipe must not be reused) */
  uint64_t syscalls;
  uint32_t offloads;      /* steps run on the threadpool because pages were cold */
  uint32_t waits;         /* times the job parked in the epoll set */
  uint32_t wakeups;       /* epoll events that reached the job */
  int status;             /* zc_status_t or -errno */
  int failed_syscall;     /* zc_syscall_t */
  int failed_side;        /* zc_side_t: which descriptor the failure concerns */
  zc_send_stats_t zc;     /* send jobs */

  /* Private. */
  zc_loop_t* loop;
  int state;
  int refs;
  int src_dup, dst_dup;
  /* Readiness (see loop.c): each pollable dup is registered once, edge-triggered,
   * the first time the job must wait on it, and stays registered until the job
   * ends. An edge sets *_ready; an EAGAIN attributed to a side clears it. */
  int src_registered, dst_registered;
  int src_ready, dst_ready;
  int wait_src, wait_dst;
  int ambiguous;          /* EAGAINs in a row that poll() could not attribute */
  int src_drained;        /* a short read emptied src: wait for it, no probing read */
  int src_hangup_seen;    /* an edge reported src's FIN/hang-up: an EOF may wait behind the data */
  int splicing;           /* ZC_SMALL_COPY: a message filled the buffer, splice the rest */
  int src_eof;
  int cancel_requested;
  int64_t src_size;
  int64_t cached_until;
  size_t offload_length;
  int64_t offload_result;
  int after_offload;      /* applying a step that ran on the threadpool (job.c, wait_for) */
  char* buffer;
  size_t buffer_start, buffer_end;
  uv_work_t work;
  /* Send jobs (zerocopy_send.c). */
  size_t buffer_index, buffer_offset; /* next byte to send */
  uint32_t zc_first_id;   /* zc_next_id at start */
  uint32_t* zc_lengths;   /* bytes taken by each zero-copy send, by id - zc_first_id */
  size_t zc_lengths_capacity;
  int errqueue_ready;     /* an EPOLLERR edge: completions may wait on the error queue */
  int ending;             /* no more sends: end with end_status once nothing is owed */
  int end_status, end_syscall;
  int copy_next;          /* ENOBUFS with nothing owed: the next send copies */
  int zc_enabled;         /* SO_ZEROCOPY is set on dst */
  int end_checked;        /* the error queue was read once after sending stopped */
  int wait_ring;          /* parked until an io_uring completion for this job */
  uint32_t ring_owed;     /* io_uring CQEs still to come for this job */
  void* ring_request;     /* the io_uring send in flight, if any */
  int ring_blocked;       /* its CQE said EAGAIN: wait for writability, then send again */
  zc_job_t* ready_next;
  zc_job_t* prev;
  zc_job_t* next;
};

/* One engine per libuv loop (per Node.js environment). */
int zc_loop_init(zc_loop_t** out, uv_loop_t* uv_loop);
/* Teardown at environment exit: stops every job without calling done_cb, and
 * calls closed_cb once libuv holds nothing of the loop (then frees it).
 * Calls still on the threadpool are freed with free(call) when they return. */
void zc_loop_close(zc_loop_t* loop, void (*closed_cb)(void* arg), void* arg);
/* True while done_cb runs from a libuv callback rather than from zc_job_start/cancel. */
int zc_loop_is_dispatching(const zc_loop_t* loop);
unsigned zc_loop_active_jobs(const zc_loop_t* loop);

/* Takes one reference for the engine; may complete (and call done_cb) before returning.
 * Returns 0, or -errno when the job could not start (done_cb is then not called). */
int zc_job_start(zc_loop_t* loop, zc_job_t* job);
/* Ends the job with ZC_STATUS_CANCELED unless it already ended. If a step is running on the
 * threadpool, the job ends (and its fds close) when that step returns. */
void zc_job_cancel(zc_job_t* job);
void zc_job_ref(zc_job_t* job);
void zc_job_unref(zc_job_t* job); /* frees the job at zero */

/* A blocking call run on the libuv threadpool; result is >= 0 or -errno.
 * zc_call_queue() dup()s fd_in and fd_out (those >= 0) and the call uses and
 * closes the dups, so a caller closing its fd meanwhile cannot redirect the
 * call to whatever file reuses the number. */
typedef struct zc_call_s zc_call_t;
typedef void (*zc_call_cb)(zc_call_t* call);
typedef enum { ZC_CALL_COPY_FILE_RANGE = 1, ZC_CALL_OPENAT2 } zc_call_op_t;
struct zc_call_s {
  int op;
  int fd_in, fd_out;
  int64_t off_in, off_out; /* -1: file position */
  size_t length;
  char* path;              /* owned by the caller */
  int flags, mode;
  uint64_t resolve;
  int64_t result;
  zc_call_cb done_cb;
  void* data;
  zc_loop_t* loop;
  uv_work_t work;
};
int zc_call_queue(zc_loop_t* loop, zc_call_t* call);

#ifdef __cplusplus
}
#endif
#endif /* ZC_H */
