/*
 * Send jobs: caller memory to a socket, in order, one non-blocking step at a
 * time, with zero-copy for the buffers the caller marked so.
 *
 *  - ZC_MODE_SEND: sendmsg(2) over runs of buffers that share one choice;
 *    MSG_ZEROCOPY for zero-copy runs. The kernel numbers a socket's
 *    successful MSG_ZEROCOPY calls (from 0, 32-bit, wrapping) and reports
 *    finished ones as inclusive ranges on the socket's error queue, which
 *    makes the socket signal EPOLLERR (Documentation/networking/msg_zerocopy.rst).
 *  - ZC_MODE_URING_SEND: one io_uring SEND_ZC (or SEND) in flight at a time,
 *    so the bytes keep their order; a SEND_ZC's first CQE says how many bytes
 *    it took and whether a notification CQE follows, the notification says
 *    the kernel let go of the pages (and, with IORING_SEND_ZC_REPORT_USAGE,
 *    whether it copied them).
 *
 * Invariants:
 *  - a job that handed pages to the kernel ends only once every completion
 *    for them has arrived, whatever stopped it (done, a send error, cancel):
 *    until done_cb the caller keeps the memory alive and unchanged;
 *  - a zero-copy call's byte count is recorded before the next one, so a
 *    completion flagged "copied" is attributed to exact bytes;
 *  - ENOBUFS (optmem_max or RLIMIT_MEMLOCK exhausted) never ends a job: it
 *    waits for its own completions to give memory back, and when it has none
 *    owed, sends that one run by copy (counted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "platform.h"

/* iovecs per sendmsg: enough to batch small buffers, small enough for the stack. */
#define ZC_SEND_IOV_MAX 64

typedef enum { SEND_AGAIN, SEND_WAIT, SEND_YIELD, SEND_END } send_step_t;

/* One io_uring send the kernel holds; freed after its last CQE. */
typedef struct zc_send_request_s {
  zc_job_t* job;          /* holds a reference */
  int64_t taken;          /* bytes the send CQE reported */
  int zerocopy;
  int send_seen;          /* the send's own CQE arrived */
  int notif_owed;         /* it said a notification CQE follows */
  struct zc_send_request_s* prev;
  struct zc_send_request_s* next;
} zc_send_request_t;

static size_t min_size(size_t a, size_t b) {
  return a < b ? a : b;
}

/* Completions the kernel still owes for MSG_ZEROCOPY calls. */
static uint64_t owed(const zc_job_t* j) {
  return j->zc.sends > j->zc.completions ? j->zc.sends - j->zc.completions : 0;
}

/* Stops sending; the job ends with `status` once nothing is owed. The first
 * reason wins: a cancel after a send error keeps the error. */
static void stop(zc_job_t* j, int status, int syscall_id) {
  if (j->ending) return;
  j->ending = 1;
  j->end_status = status;
  j->end_syscall = syscall_id;
  if (status < 0) j->failed_side = ZC_SIDE_DST;
}

static void skip_empty_buffers(zc_job_t* j) {
  while (j->buffer_index < j->buffer_count && j->buffer_offset >= j->buffers[j->buffer_index].length) {
    j->buffer_index++;
    j->buffer_offset = 0;
  }
}

static void account_sent(zc_job_t* j, size_t n) {
  j->moved += (int64_t)n;
  if (j->remaining > 0) j->remaining -= (int64_t)n;
  while (n > 0 && j->buffer_index < j->buffer_count) {
    size_t left = j->buffers[j->buffer_index].length - j->buffer_offset;
    size_t used = min_size(left, n);
    j->buffer_offset += used;
    n -= used;
    if (j->buffer_offset == j->buffers[j->buffer_index].length) {
      j->buffer_index++;
      j->buffer_offset = 0;
    }
  }
}

static size_t send_limit(const zc_job_t* j, size_t spent) {
  size_t limit = j->budget > spent ? j->budget - spent : 0;
  if (j->remaining >= 0) limit = min_size(limit, (size_t)j->remaining);
  return min_size(limit, ZC_MAX_RW_BYTES);
}

static int is_zerocopy(const zc_job_t* j, size_t index) {
  return j->buffers[index].zerocopy && !j->copy_next;
}

/* The run of buffers from the current position that share one zero-copy
 * choice, as at most ZC_SEND_IOV_MAX iovecs and `limit` bytes. */
static int next_batch(zc_job_t* j, struct iovec* iov, size_t limit, int* zerocopy, size_t* total) {
  skip_empty_buffers(j);
  size_t index = j->buffer_index, offset = j->buffer_offset, sum = 0;
  int count = 0;
  if (index >= j->buffer_count || limit == 0) return 0;
  *zerocopy = is_zerocopy(j, index);
  while (index < j->buffer_count && count < ZC_SEND_IOV_MAX && sum < limit) {
    const zc_buffer_t* b = &j->buffers[index];
    if (b->length > offset) {
      if (is_zerocopy(j, index) != *zerocopy) break;
      size_t take = min_size(b->length - offset, limit - sum);
      iov[count].iov_base = (char*)b->base + offset;
      iov[count].iov_len = take;
      count++;
      sum += take;
    }
    index++;
    offset = 0;
  }
  *total = sum;
  return count;
}

/* Room to record one more zero-copy call's byte count, made before the call
 * so a call the kernel took is always recorded. */
static int reserve_length(zc_job_t* j) {
  if (j->zc.sends < j->zc_lengths_capacity) return 0;
  size_t capacity = j->zc_lengths_capacity ? j->zc_lengths_capacity * 2 : 64;
  uint32_t* grown = realloc(j->zc_lengths, capacity * sizeof *grown);
  if (grown == NULL) return -ENOMEM;
  j->zc_lengths = grown;
  j->zc_lengths_capacity = capacity;
  return 0;
}

static void record_zerocopy_send(zc_job_t* j, size_t n) {
  /* n <= ZC_MAX_RW_BYTES, so it fits. */
  j->zc_lengths[j->zc.sends] = (uint32_t)n;
  j->zc.sends++;
  j->zc.bytes += (int64_t)n;
  j->zc_next_id++;
}

/* Reads every completion queued on the error queue. Returns how many calls
 * they covered, or -errno. A range is counted whole even when it lies
 * outside this job's ids (it cannot, while every job drains its own before
 * it ends): counting it keeps the job from waiting for ever. */
static int64_t drain_errqueue(zc_job_t* j) {
  int64_t covered = 0;
  for (;;) {
    uint32_t lo, hi;
    int copied;
    int r = zc__read_zerocopy_completion(j->dst_dup, &lo, &hi, &copied);
    j->syscalls++;
    if (r == -EAGAIN) {
      j->errqueue_ready = 0;
      return covered;
    }
    if (r < 0) return r;
    if (r == 0) continue;
    uint32_t count = hi - lo + 1; /* unsigned: a range may wrap past 2^32 */
    j->zc.completions += count;
    covered += count;
    if (!copied) continue;
    for (uint32_t k = 0; k < count; k++) {
      uint32_t index = lo + k - j->zc_first_id;
      if (index < j->zc.sends) j->zc.copied_bytes += j->zc_lengths[index];
    }
  }
}

static send_step_t wait_dst(zc_job_t* j) {
  int r = zc__loop_wait(j, 0, 1);
  if (r < 0) {
    j->failed_side = ZC_SIDE_NONE;
    zc__job_finish(j, r, ZC_SYS_EPOLL_CTL);
    return SEND_END;
  }
  return SEND_WAIT;
}

static send_step_t finish(zc_job_t* j) {
  if (j->ending) zc__job_finish(j, j->end_status, j->end_syscall);
  else zc__job_finish(j, ZC_STATUS_OK, ZC_SYS_NONE);
  return SEND_END;
}

/* After ENOBUFS from a zero-copy call: completions give memory back. */
static send_step_t after_enobufs(zc_job_t* j) {
  j->zc.enobufs++;
  int64_t covered = drain_errqueue(j);
  if (covered < 0) {
    stop(j, (int)covered, ZC_SYS_RECVMSG);
    return SEND_AGAIN;
  }
  if (covered > 0) return SEND_AGAIN;       /* some came back: try again */
  if (owed(j) > 0) return wait_dst(j);      /* the ones owed will wake us (EPOLLERR) */
  j->copy_next = 1;                         /* nothing of ours to wait for: copy this run */
  return SEND_AGAIN;
}

static send_step_t msg_step(zc_job_t* j, size_t* spent) {
  if (j->errqueue_ready) {
    int64_t r = drain_errqueue(j);
    if (r < 0) {
      /* The error queue cannot be read: nothing more can be known about
       * the pages, so stop here with what was counted. */
      stop(j, (int)r, ZC_SYS_RECVMSG);
      return finish(j);
    }
  }
  if (j->ending || j->remaining == 0) {
    if (owed(j) > 0) {
      /* Once, look before parking: they may be queued already (loopback
       * completes at once). After that, EPOLLERR edges say when. */
      if (!j->end_checked) {
        j->end_checked = 1;
        j->errqueue_ready = 1;
        return SEND_AGAIN;
      }
      return wait_dst(j);
    }
    return finish(j);
  }
  if (*spent >= j->budget) return SEND_YIELD;
  if ((j->flags & ZC_ENABLE_ZEROCOPY) && !j->zc_enabled) {
    int r = zc__enable_zerocopy(j->dst_dup);
    j->syscalls++;
    if (r < 0) {
      stop(j, r, ZC_SYS_SETSOCKOPT);
      return SEND_AGAIN;
    }
    j->zc_enabled = 1;
  }
  struct iovec iov[ZC_SEND_IOV_MAX];
  int zerocopy = 0;
  size_t total = 0;
  int count = next_batch(j, iov, send_limit(j, *spent), &zerocopy, &total);
  if (count == 0) {
    /* remaining says more, the buffers say no more: a caller bug. */
    stop(j, -EINVAL, ZC_SYS_SENDMSG);
    return SEND_AGAIN;
  }
  if (zerocopy && reserve_length(j) < 0) {
    stop(j, -ENOMEM, ZC_SYS_MALLOC);
    return SEND_AGAIN;
  }
  ssize_t n = zc__sendmsg(j->dst_dup, iov, count, zerocopy);
  j->syscalls++;
  if (n > 0) {
    if (zerocopy) {
      record_zerocopy_send(j, (size_t)n);
      /* Completions arrive as EPOLLERR edges: be registered from the first one. */
      if (!j->dst_registered && zc__loop_watch(j, ZC_SIDE_DST) < 0) j->errqueue_ready = 1;
    } else if (j->copy_next) {
      j->zc.enobufs_copied += n;
      j->copy_next = 0;
    }
    account_sent(j, (size_t)n);
    *spent += (size_t)n;
    return SEND_AGAIN;
  }
  if (n == -EAGAIN) return wait_dst(j);
  if (n == -ENOBUFS && zerocopy) return after_enobufs(j);
  stop(j, n == 0 ? -EIO : (int)n, ZC_SYS_SENDMSG);
  return SEND_AGAIN;
}

/* --- io_uring ------------------------------------------------------------- */

static void link_request(zc_send_request_t* req) {
  zc_send_request_t** head = (zc_send_request_t**)zc__loop_send_requests(req->job->loop);
  req->prev = NULL;
  req->next = *head;
  if (*head) (*head)->prev = req;
  *head = req;
}

static void unlink_request(zc_send_request_t* req) {
  zc_send_request_t** head = (zc_send_request_t**)zc__loop_send_requests(req->job->loop);
  if (req->prev) req->prev->next = req->next;
  else *head = req->next;
  if (req->next) req->next->prev = req->prev;
}

static send_step_t wait_ring(zc_job_t* j) {
  j->wait_ring = 1;
  j->waits++;
  return SEND_WAIT;
}

static send_step_t ring_step(zc_job_t* j, size_t* spent) {
  /* One send in flight at a time: a second could go out first. */
  if (j->ring_request != NULL) return wait_ring(j);
  if (j->ring_blocked && !j->ending) {
    /* The kernel answered EAGAIN instead of waiting itself: wait here. */
    j->ring_blocked = 0;
    return wait_dst(j);
  }
  if (j->ending || j->remaining == 0) {
    if (j->ring_owed > 0) return wait_ring(j);
    return finish(j);
  }
  if (*spent >= j->budget) return SEND_YIELD;
  zc_uring_t* ring;
  int r = zc__loop_uring(j->loop, &ring);
  if (r < 0) {
    stop(j, r, ZC_SYS_IO_URING_SETUP);
    return SEND_AGAIN;
  }
  skip_empty_buffers(j);
  if (j->buffer_index >= j->buffer_count) {
    stop(j, -EINVAL, ZC_SYS_SEND_ZC);
    return SEND_AGAIN;
  }
  const zc_buffer_t* b = &j->buffers[j->buffer_index];
  size_t length = min_size(b->length - j->buffer_offset, send_limit(j, *spent));
  if (length == 0) return SEND_YIELD;
  zc_send_request_t* req = calloc(1, sizeof *req);
  if (req == NULL) {
    stop(j, -ENOMEM, ZC_SYS_MALLOC);
    return SEND_AGAIN;
  }
  req->job = j;
  req->zerocopy = b->zerocopy;
  r = zc__uring_send(ring, j->dst_dup, b->base + j->buffer_offset, length, b->zerocopy, (uint64_t)(uintptr_t)req);
  j->syscalls++;
  if (r < 0) {
    free(req);
    stop(j, r, ZC_SYS_IO_URING_ENTER);
    return SEND_AGAIN;
  }
  zc_job_ref(j);
  link_request(req);
  j->ring_request = req;
  j->ring_owed++;
  *spent += length;
  return wait_ring(j);
}

void zc__send_on_cqe(uint64_t user_data, int32_t res, uint32_t flags) {
  zc_send_request_t* req = (zc_send_request_t*)(uintptr_t)user_data;
  if (req == NULL) return; /* a cancel request's own CQE */
  zc_job_t* j = req->job;
  j->wakeups++;
  if (flags & ZC_URING_CQE_F_NOTIF) {
    req->notif_owed = 0;
    j->ring_owed--;
    j->zc.completions++;
    if ((uint32_t)res & ZC_URING_NOTIF_USAGE_ZC_COPIED) j->zc.copied_bytes += req->taken;
  } else {
    req->send_seen = 1;
    j->ring_owed--;
    j->ring_request = NULL;
    if (flags & ZC_URING_CQE_F_MORE) {
      req->notif_owed = 1;
      j->ring_owed++;
      j->zc.sends++;
    }
    if (res > 0) {
      req->taken = res;
      if (req->zerocopy) j->zc.bytes += res;
      account_sent(j, (size_t)res);
    } else if (res == -EAGAIN) {
      j->ring_blocked = 1; /* nothing taken: the same bytes go again once writable */
    } else if (res == 0) {
      stop(j, -EIO, req->zerocopy ? ZC_SYS_SEND_ZC : ZC_SYS_SEND);
    } else if (!(res == -ECANCELED && j->ending)) {
      stop(j, res, req->zerocopy ? ZC_SYS_SEND_ZC : ZC_SYS_SEND);
    }
  }
  if (j->state == ZC_JOB_POLLING && j->wait_ring) zc__send_advance(j);
  if (req->send_seen && !req->notif_owed) {
    unlink_request(req);
    free(req);
    zc_job_unref(j);
  }
}

void zc__send_forget_requests(zc_loop_t* loop) {
  zc_send_request_t** head = (zc_send_request_t**)zc__loop_send_requests(loop);
  while (*head) {
    zc_send_request_t* req = *head;
    *head = req->next;
    zc_job_unref(req->job);
    free(req);
  }
}

/* --- shared --------------------------------------------------------------- */

void zc__send_advance(zc_job_t* j) {
  size_t spent = 0;
  j->state = ZC_JOB_RUNNING;
  j->wait_src = j->wait_dst = j->wait_ring = 0;
  for (;;) {
    send_step_t s = j->mode == ZC_MODE_URING_SEND ? ring_step(j, &spent) : msg_step(j, &spent);
    switch (s) {
      case SEND_AGAIN:
        continue;
      case SEND_WAIT:
        j->state = ZC_JOB_POLLING;
        return;
      case SEND_YIELD:
        zc__loop_queue_ready(j);
        return;
      case SEND_END:
        return;
    }
  }
}

int zc__send_cancel(zc_job_t* j) {
  stop(j, ZC_STATUS_CANCELED, ZC_SYS_NONE);
  if (j->mode == ZC_MODE_URING_SEND) {
    zc_uring_t* ring;
    /* The send still runs when the cancel fails (it completed meanwhile): its CQEs come either way. */
    if (j->ring_request != NULL && zc__loop_uring(j->loop, &ring) == 0)
      (void)zc__uring_cancel(ring, (uint64_t)(uintptr_t)j->ring_request);
    return j->ring_owed > 0;
  }
  if (owed(j) > 0 && j->dst_dup >= 0) (void)drain_errqueue(j);
  return owed(j) > 0;
}
