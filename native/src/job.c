/*
 * The transfer state machine: advance a job one non-blocking step at a time
 * until it is done, blocked on readiness, out of budget for this wakeup, or
 * about to read pages that are not in the page cache (that one step then runs
 * on the threadpool, like nginx's "aio threads", so the loop never waits for
 * the disk).
 *
 * Invariants, checked at every step:
 *  - head bytes all go out before the first body byte;
 *  - with an internal pipe, job->in_pipe is exactly what the pipe holds,
 *    offloaded steps included (a step whose job was canceled while it ran on
 *    the threadpool is still counted), so the caller can tell a clean pipe
 *    from one that must never be lent again; an EAGAIN from the fill (the
 *    pipe is empty then) means "src has nothing", from the drain "dst is full";
 *  - a job waits only on a side that was seen blocked: waiting on a side that
 *    is ready would wake at once and spin;
 *  - a job in ZC_JOB_OFFLOADED is touched by the worker only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "platform.h"

/* Consecutive EAGAINs that poll() could not attribute to a side (both looked
 * ready: a race with the peer) before the job parks on both sides. */
#define ZC_AMBIGUOUS_RETRIES 2

typedef enum { STEP_AGAIN, STEP_WAIT, STEP_YIELD, STEP_OFFLOAD, STEP_END } zc__step_t;

static int64_t min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

static int has_internal_pipe(const zc_job_t* j) {
  return j->pipe_rd >= 0;
}

/* Whether the next src read goes into the job's buffer (a copy, or a small
 * message of a ZC_SMALL_COPY splice) rather than into a pipe or to dst. */
static int reads_into_buffer(const zc_job_t* j) {
  if (j->mode == ZC_MODE_COPY) return 1;
  return (j->flags & ZC_SMALL_COPY) && has_internal_pipe(j) && !j->splicing;
}

static int buffer_pending(const zc_job_t* j) {
  return j->buffer_end > j->buffer_start;
}

/* Bytes the next src-consuming call may ask for. */
static size_t next_read_length(const zc_job_t* j, size_t spent) {
  int64_t want = (int64_t)(j->budget > spent ? j->budget - spent : 0);
  if (j->remaining >= 0) want = min64(want, j->remaining);
  if (reads_into_buffer(j)) want = min64(want, (int64_t)j->copy_buffer_size);
  else if (has_internal_pipe(j)) want = min64(want, (int64_t)j->pipe_capacity - j->in_pipe);
  return (size_t)min64(want, (int64_t)ZC_MAX_RW_BYTES);
}

static int64_t* src_offset_ptr(zc_job_t* j) {
  return j->src_offset >= 0 ? &j->src_offset : NULL;
}

/* The one call that consumes src. Runs on the loop thread or, for cold pages,
 * on the threadpool; it touches no engine state besides the offset. */
static ssize_t read_step(zc_job_t* j, size_t length) {
  if (reads_into_buffer(j)) return zc__read(j->src_dup, j->buffer, length, src_offset_ptr(j));
  switch (j->mode) {
    case ZC_MODE_SENDFILE:
      return zc__sendfile(j->dst_dup, j->src_dup, src_offset_ptr(j), length);
    case ZC_MODE_SPLICE:
      return zc__splice(j->src_dup, (j->flags & ZC_SRC_REGULAR) ? src_offset_ptr(j) : NULL,
                        has_internal_pipe(j) ? j->pipe_wr : j->dst_dup, length);
    case ZC_MODE_TEE:
      return zc__tee(j->src_dup, j->dst_dup, length);
    default:
      return zc__read(j->src_dup, j->buffer, length, src_offset_ptr(j));
  }
}

static int read_syscall(const zc_job_t* j) {
  if (reads_into_buffer(j)) return ZC_SYS_READ;
  switch (j->mode) {
    case ZC_MODE_SENDFILE: return ZC_SYS_SENDFILE;
    case ZC_MODE_SPLICE: return ZC_SYS_SPLICE;
    case ZC_MODE_TEE: return ZC_SYS_TEE;
    default: return ZC_SYS_READ;
  }
}

static int write_syscall(const zc_job_t* j) {
  if (has_internal_pipe(j) && !buffer_pending(j)) return ZC_SYS_SPLICE;
  return (j->flags & ZC_DST_SOCKET) ? ZC_SYS_SEND : ZC_SYS_WRITE;
}

/* Whether the bytes go straight to dst (sendfile, direct splice, tee) rather
 * than into the internal pipe or the copy buffer. */
static int read_step_delivers(const zc_job_t* j) {
  return !reads_into_buffer(j) && !has_internal_pipe(j);
}

static int src_pollable(const zc_job_t* j) {
  return !(j->flags & ZC_SRC_REGULAR);
}

static int dst_pollable(const zc_job_t* j) {
  return !(j->flags & ZC_DST_REGULAR);
}

/* Parks the job until a side it waits on becomes ready, or ends it if epoll
 * refuses. What the cache probe found no longer holds after a wait of
 * unknown length: pages seen resident can be reclaimed meanwhile (a slow
 * client takes seconds per window), and reading them would block the loop
 * on the disk. The next read probes again. */
static zc__step_t wait_for(zc_job_t* j, int want_src, int want_dst) {
  j->cached_until = 0;
  int r;
  if (j->after_offload) {
    /* The EAGAIN came from the threadpool, and the loop may have delivered
     * an edge for that side after it (the flags were cleared when the step
     * was sent there, so any set now came later). Clearing it here, as
     * zc__loop_wait does for an EAGAIN seen on this thread, would lose it:
     * edge-triggered, the side would never be reported again and the job
     * would hang. So: a side already ready means try again now. */
    if ((want_src && j->src_ready) || (want_dst && j->dst_ready)) return STEP_AGAIN;
    r = zc__loop_park(j, want_src, want_dst);
  } else {
    r = zc__loop_wait(j, want_src, want_dst);
  }
  if (r < 0) {
    zc__job_finish(j, r, ZC_SYS_EPOLL_CTL);
    return STEP_END;
  }
  return STEP_WAIT;
}

static void fail(zc_job_t* j, int status, int syscall_id, int side) {
  j->failed_side = side;
  zc__job_finish(j, status, syscall_id);
}

/*
 * The error a side reports through poll/epoll (POLLERR, POLLHUP), as the
 * status to end the job with, or 0 when it can still move bytes:
 *  - a socket's pending error (SO_ERROR: ECONNRESET after a reset);
 *  - POLLERR on a pipe's write end: no reader is left (EPIPE);
 *  - POLLHUP on dst: the connection is shut both ways, nothing more can be
 *    written (EPIPE). POLLHUP on src is only an EOF still to be read.
 */
static int side_error(zc_job_t* j, int side, int errors, int hangup) {
  int fd = side == ZC_SIDE_SRC ? j->src_dup : j->dst_dup;
  if (errors) {
    int err = zc__socket_error(fd);
    j->syscalls++;
    if (err > 0) return -err;
    if (err == -ENOTSOCK && side == ZC_SIDE_DST) return -EPIPE;
    /* 0: only the error queue (zero-copy completions) signalled. */
  }
  if (hangup && side == ZC_SIDE_DST) return -EPIPE;
  return 0;
}

int zc__job_check_side(zc_job_t* j, int side, int errors, int hangup) {
  int status = side_error(j, side, errors, hangup);
  if (status < 0) fail(j, status, read_step_delivers(j) || side == ZC_SIDE_SRC ? read_syscall(j)
                                                                             : write_syscall(j), side);
  return status;
}

/*
 * After EAGAIN from a call with a pipe or a socket on each side (a direct
 * splice or a tee): the errno does not say which side blocked. Waiting on
 * both would wake at once for the side that is ready, and the job would spin
 * at full CPU while moving nothing. A zero-timeout poll() asks both sides;
 * the job then waits on the one that is not ready. (For a TCP socket, poll
 * reporting "not writable" also sets SOCK_NOSPACE, so the edge that ends the
 * wait is sure to come.)
 */
static zc__step_t wait_for_blocked_side(zc_job_t* j) {
  int src_events = 0, dst_events = 0;
  int r = zc__poll_pair(j->src_dup, &src_events, j->dst_dup, &dst_events);
  j->syscalls++;
  if (r < 0) {
    fail(j, r, ZC_SYS_POLL, ZC_SIDE_NONE);
    return STEP_END;
  }
  if (zc__job_check_side(j, ZC_SIDE_SRC, src_events & ZC_POLL_ERROR, src_events & ZC_POLL_HANGUP) < 0) return STEP_END;
  if (zc__job_check_side(j, ZC_SIDE_DST, dst_events & ZC_POLL_ERROR, dst_events & ZC_POLL_HANGUP) < 0) return STEP_END;
  int src_blocked = !(src_events & (ZC_POLL_IN | ZC_POLL_HANGUP | ZC_POLL_ERROR));
  int dst_blocked = !(dst_events & (ZC_POLL_OUT | ZC_POLL_ERROR));
  if (src_blocked || dst_blocked) {
    j->ambiguous = 0;
    return wait_for(j, src_blocked, dst_blocked);
  }
  if (++j->ambiguous <= ZC_AMBIGUOUS_RETRIES) return STEP_AGAIN;
  j->ambiguous = 0;
  return wait_for(j, 1, 1);
}

/* After EAGAIN from read_step. Filling the internal pipe or the copy buffer
 * (both empty then) can only wait for src; a call whose other side is a
 * regular file (which never blocks) waits for the pollable side. */
static zc__step_t wait_after_read_eagain(zc_job_t* j) {
  if (!read_step_delivers(j)) return wait_for(j, 1, 0);
  if (j->mode == ZC_MODE_SENDFILE || !src_pollable(j)) return wait_for(j, 0, 1);
  if (!dst_pollable(j)) return wait_for(j, 1, 0);
  return wait_for_blocked_side(j);
}

static void end_ok_or_eof(zc_job_t* j) {
  zc__job_finish(j, j->remaining > 0 ? ZC_STATUS_EOF : ZC_STATUS_OK, ZC_SYS_NONE);
}

/* Decide whether the pages the next read would touch are cached. Returns the
 * length to read (clamped to the window checked), or 0 to offload the step. */
static size_t cached_read_length(zc_job_t* j, size_t length) {
  if (!(j->flags & ZC_SRC_REGULAR) || j->cache_window <= 0) return length;
  int64_t off = j->src_offset >= 0 ? j->src_offset : zc__file_position(j->src_dup);
  if (off < 0) return length;
  if (off + (int64_t)length <= j->cached_until) return length;
  /* Only what this job will read: a 1 KiB send must not probe 8 MiB. The
   * file size matters only when reading to EOF; it is fetched lazily. */
  int64_t limit = j->remaining;
  if (limit < 0) {
    if (off >= j->src_size && (zc__fstat_size(j->src_dup, &j->src_size) != 0 || off >= j->src_size)) return length;
    limit = j->src_size - off;
  }
  int64_t window = min64(limit, j->cache_window);
  j->syscalls++;
  if (!zc__is_cached(j->src_dup, off, (size_t)window, j->cache_probe_stride)) {
    j->cached_until = 0; /* the offloaded read waits on the threadpool: look again after */
    return 0;
  }
  j->cached_until = off + window;
  return (size_t)min64((int64_t)length, window);
}

/* Counts the bytes one read_step moved: where they went and what is left to
 * take from src. Shared by every path, including a canceled offload, so
 * `moved` and `in_pipe` are exact whatever ended the job. */
static void account_read(zc_job_t* j, ssize_t n) {
  if (n <= 0) return;
  if (j->remaining > 0) j->remaining -= n;
  if (read_step_delivers(j)) {
    j->moved += n;
  } else if (reads_into_buffer(j)) {
    j->buffer_start = 0;
    j->buffer_end = (size_t)n;
  } else {
    j->in_pipe += n;
  }
}

/*
 * What a read of `n` bytes (asked: `asked`) says about the source. From a
 * socket or a pipe, a read that returns less than asked emptied it at that
 * moment (recv and read return what is queued), so after delivering the job
 * waits for the next edge instead of probing with a read that would only
 * answer EAGAIN: one syscall less per message. Not after an edge reported
 * the peer's FIN: that edge will not come again, and the EOF behind the
 * data must still be read. (A FIN arriving later brings its own edge; one
 * that arrived before the job first waited is reported when the fd is
 * registered.) A splice into a pipe proves nothing: it also stops short
 * when the pipe runs out of slots.
 * For ZC_SMALL_COPY: a message that filled the buffer is spliced from then
 * on; a short splice switches back to the buffer for the next message.
 */
static void learn_from_read(zc_job_t* j, ssize_t n, size_t asked, int into_buffer) {
  if (into_buffer && src_pollable(j) && (size_t)n < asked && !j->src_hangup_seen) {
    /* Seen empty now; an edge that arrives while the job delivers these
     * bytes (or waits for dst to take them) sets the flag again. */
    j->src_drained = 1;
    j->src_ready = 0;
  }
  if (!(j->flags & ZC_SMALL_COPY) || !has_internal_pipe(j)) return;
  if (into_buffer && (size_t)n == asked) j->splicing = 1;
  else if (!into_buffer && (size_t)n < asked) j->splicing = 0;
}

/* Applies the result of read_step (which asked for `asked` bytes); shared by
 * the inline and offloaded paths. */
static zc__step_t apply_read(zc_job_t* j, ssize_t n, size_t asked, size_t* spent) {
  j->syscalls++;
  if (n > 0) {
    int delivered = read_step_delivers(j);
    int into_buffer = reads_into_buffer(j);
    account_read(j, n);
    learn_from_read(j, n, asked, into_buffer);
    j->ambiguous = 0;
    if (delivered) {
      *spent += (size_t)n;
      if (j->mode == ZC_MODE_TEE) {
        zc__job_finish(j, ZC_STATUS_OK, ZC_SYS_NONE);
        return STEP_END;
      }
    }
    return STEP_AGAIN;
  }
  if (n == 0) {
    j->src_eof = 1;
    if (j->mode == ZC_MODE_TEE) {
      zc__job_finish(j, ZC_STATUS_EOF, ZC_SYS_NONE);
      return STEP_END;
    }
    return STEP_AGAIN;
  }
  if (n == -EAGAIN) return wait_after_read_eagain(j);
  fail(j, (int)n, read_syscall(j), ZC_SIDE_NONE);
  return STEP_END;
}

/* Bytes waiting to reach dst: the internal pipe or the copy buffer. */
static zc__step_t drain_pending(zc_job_t* j, size_t* spent) {
  ssize_t n;
  int from_pipe = !buffer_pending(j);
  if (from_pipe) {
    n = zc__splice(j->pipe_rd, NULL, j->dst_dup, (size_t)min64(j->in_pipe, (int64_t)ZC_MAX_RW_BYTES));
  } else {
    n = zc__write(j->dst_dup, j->buffer + j->buffer_start, j->buffer_end - j->buffer_start,
                  (j->flags & ZC_DST_SOCKET) != 0, 0);
  }
  j->syscalls++;
  if (n > 0) {
    j->moved += n;
    *spent += (size_t)n;
    if (from_pipe) {
      j->in_pipe -= n;
    } else {
      if (has_internal_pipe(j)) j->copied += n;
      j->buffer_start += (size_t)n;
      if (j->buffer_start == j->buffer_end) j->buffer_start = j->buffer_end = 0;
    }
    return STEP_AGAIN;
  }
  if (n == -EAGAIN) return wait_for(j, 0, 1);
  /* A pipe we hold the write end of, or a write of a nonzero count, cannot
   * return 0; treat it as an I/O error rather than spin. */
  fail(j, n == 0 ? -EIO : (int)n, write_syscall(j), ZC_SIDE_DST);
  return STEP_END;
}

static zc__step_t send_head(zc_job_t* j) {
  int is_socket = (j->flags & ZC_DST_SOCKET) != 0;
  ssize_t n = zc__write(j->dst_dup, j->head + j->head_sent, j->head_length - j->head_sent,
                        is_socket, (j->flags & ZC_HEAD_MORE) != 0);
  j->syscalls++;
  if (n > 0) {
    j->head_sent += (size_t)n;
    return STEP_AGAIN;
  }
  if (n == -EAGAIN) return wait_for(j, 0, 1);
  fail(j, n == 0 ? -EIO : (int)n, is_socket ? ZC_SYS_SEND : ZC_SYS_WRITE, ZC_SIDE_DST);
  return STEP_END;
}

static zc__step_t step(zc_job_t* j, size_t* spent) {
  if (j->head_sent < j->head_length) return send_head(j);
  int pending = buffer_pending(j) || (has_internal_pipe(j) && j->in_pipe > 0);
  if (pending) return *spent >= j->budget ? STEP_YIELD : drain_pending(j, spent);
  if (j->src_eof || j->remaining == 0) {
    end_ok_or_eof(j);
    return STEP_END;
  }
  if (j->src_drained) {
    j->src_drained = 0;
    if (!j->src_ready) {
      int r = zc__loop_park(j, 1, 0);
      if (r < 0) {
        zc__job_finish(j, r, ZC_SYS_EPOLL_CTL);
        return STEP_END;
      }
      return STEP_WAIT;
    }
  }
  if (*spent >= j->budget) return STEP_YIELD;
  size_t length = next_read_length(j, *spent);
  size_t cached = cached_read_length(j, length);
  if (cached == 0) {
    j->offload_length = length;
    return STEP_OFFLOAD;
  }
  return apply_read(j, read_step(j, cached), cached, spent);
}

/* Runs steps until the job waits, yields, offloads or ends; never touches
 * the job after it ends (its last reference may be gone). */
static void run(zc_job_t* j, size_t spent) {
  for (;;) {
    switch (step(j, &spent)) {
      case STEP_AGAIN:
        continue;
      case STEP_WAIT:
        j->state = ZC_JOB_POLLING;
        return;
      case STEP_YIELD:
        zc__loop_queue_ready(j);
        return;
      case STEP_OFFLOAD: {
        /* Readiness seen from here on is newer than the step: see wait_for. */
        j->src_ready = j->dst_ready = 0;
        int r = zc__loop_offload(j);
        if (r < 0) zc__job_finish(j, r, ZC_SYS_QUEUE_WORK);
        return;
      }
      case STEP_END:
        return;
    }
  }
}

void zc__job_advance(zc_job_t* j) {
  if (zc__is_send_mode(j->mode)) {
    zc__send_advance(j);
    return;
  }
  j->state = ZC_JOB_RUNNING;
  j->wait_src = j->wait_dst = 0;
  run(j, 0);
}

void zc__job_run_offloaded(zc_job_t* j) {
  j->offload_result = read_step(j, j->offload_length);
}

/* `never_ran`: uv_cancel took the step off the queue before a worker ran it. */
void zc__job_after_offload(zc_job_t* j, int never_ran) {
  j->offloads++;
  if (never_ran) {
    zc__job_finish(j, ZC_STATUS_CANCELED, ZC_SYS_NONE);
    return;
  }
  if (j->cancel_requested) {
    /* The step ran: its bytes are in the pipe (or delivered) even though no
     * one wants the rest. Counting them is what keeps a dirty pipe out of
     * the pool (the next transfer on it would send them to another peer). */
    j->syscalls++;
    account_read(j, (ssize_t)j->offload_result);
    zc__job_finish(j, ZC_STATUS_CANCELED, ZC_SYS_NONE);
    return;
  }
  size_t spent = 0;
  j->state = ZC_JOB_RUNNING;
  j->after_offload = 1;
  zc__step_t next = apply_read(j, (ssize_t)j->offload_result, j->offload_length, &spent);
  j->after_offload = 0; /* offload_done holds a reference: `j` is valid even if it ended */
  switch (next) {
    case STEP_AGAIN:
      run(j, spent);
      return;
    case STEP_WAIT:
      j->state = ZC_JOB_POLLING;
      return;
    default:
      return;
  }
}
