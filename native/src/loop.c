/*
 * Event-loop plumbing: one private epoll instance per libuv loop, watched by
 * libuv through a single uv_poll_t on the epoll fd. Jobs register their own
 * dup()s in it, so no fd that a net.Socket watches ever gets a second
 * uv_poll_t (libuv does not support that). An eventfd in the same set wakes
 * jobs that yielded after spending their per-wakeup budget. Cold-file steps
 * run on the libuv threadpool.
 *
 * Readiness is edge-triggered, as in Go's netpoller: a dup is registered once
 * (EPOLLET), the first time its job has to wait on it, and stays registered
 * until the job ends, so waiting costs no epoll_ctl per message. Each edge
 * marks its side ready; the job runs when a side it waits on is ready. No
 * wakeup is lost: a job waits on a side only after an EAGAIN from it (or a
 * poll() saying it is not ready), and an edge after that is queued in the
 * epoll set until the next epoll_wait, which runs on this same thread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "platform.h"

#define ZC_EVENTS_PER_WAKEUP 64

/* Bytes all jobs together may move in one callback from libuv; past it, the
 * jobs still ready wait on the ready list for the next loop turn, after
 * timers and JS I/O. A job's own budget (native-job.ts, 4 MiB) bounds one
 * job, not a batch of up to 64 ready ones. Two job budgets is ~2 ms of
 * sendfile to loopback here (0.25 CPU-s/GB). Measured with 1,000 clients
 * reading at 1 MB/s (after the cache-probe fix in job.c, which removed the
 * big stalls): loop stalls over 20 ms mid-run in 1 run of 5 with this
 * bound, in 2 runs of 3 without. */
#define ZC_BYTES_PER_DISPATCH ((int64_t)8 << 20)

struct zc_loop_s {
  uv_loop_t* uv_loop;
  uv_poll_t poll;
  int epoll_fd;
  int ready_fd;        /* eventfd: readable while the ready list is non-empty */
  zc_job_t* jobs;      /* every job not yet done */
  zc_job_t* ready;     /* jobs that yielded, in FIFO order via ready_tail */
  zc_job_t* ready_tail;
  unsigned active;
  unsigned in_flight;  /* threadpool requests not yet returned */
  int dispatching;
  int closing;
  int poll_closed;
  int64_t dispatched;  /* bytes moved by jobs in the current libuv callback */
  void (*closed_cb)(void* arg);
  void* closed_arg;
  zc_uring_t* uring;   /* opened by the first io_uring send job */
  void* send_requests; /* io_uring sends the kernel holds (zerocopy_send.c) */
};

/* Called when the loop is closing and nothing of it is left in libuv. */
static void maybe_free(zc_loop_t* loop) {
  if (!loop->closing || !loop->poll_closed || loop->in_flight > 0) return;
  if (loop->closed_cb) loop->closed_cb(loop->closed_arg);
  free(loop);
}

static void set_active(zc_loop_t* loop, int delta) {
  unsigned before = loop->active;
  loop->active += delta;
  /* The poll handle keeps the process alive only while a transfer is pending. */
  if (before == 0 && loop->active > 0) uv_ref((uv_handle_t*)&loop->poll);
  if (before > 0 && loop->active == 0) uv_unref((uv_handle_t*)&loop->poll);
}

void zc_job_ref(zc_job_t* j) {
  j->refs++;
}

void zc_job_unref(zc_job_t* j) {
  if (--j->refs > 0) return;
  free(j->buffer);
  free(j->zc_lengths);
  free(j);
}

/* epoll_event.data carries the job pointer with the side in its low bit
 * (jobs come from malloc, so the bit is free); NULL is the ready eventfd,
 * ZC_RING_TAG the io_uring ring (no job lives at address 2). */
#define ZC_DST_TAG ((uintptr_t)1)
#define ZC_RING_TAG ((uint64_t)2)

static int register_side(zc_job_t* j, int side) {
  int is_src = side == ZC_SIDE_SRC;
  struct epoll_event ev;
  /* EPOLLRDHUP: a peer's FIN wakes a reader like data does (it reads EOF). */
  ev.events = EPOLLET | (is_src ? EPOLLIN | EPOLLRDHUP : EPOLLOUT);
  ev.data.u64 = (uint64_t)((uintptr_t)j | (is_src ? 0 : ZC_DST_TAG));
  if (epoll_ctl(j->loop->epoll_fd, EPOLL_CTL_ADD, is_src ? j->src_dup : j->dst_dup, &ev) != 0) return -errno;
  if (is_src) j->src_registered = 1;
  else j->dst_registered = 1;
  return 0;
}

int zc__loop_watch(zc_job_t* j, int side) {
  if (side == ZC_SIDE_SRC) return j->src_registered ? 0 : register_side(j, side);
  return j->dst_registered ? 0 : register_side(j, side);
}

int zc__loop_wait(zc_job_t* j, int want_src, int want_dst) {
  if (want_src) j->src_ready = 0;
  if (want_dst) j->dst_ready = 0;
  return zc__loop_park(j, want_src, want_dst);
}

int zc__loop_park(zc_job_t* j, int want_src, int want_dst) {
  int r;
  if (!want_src && !want_dst) return -EAGAIN; /* nothing could ever wake it */
  if (want_src && !j->src_registered && (r = register_side(j, ZC_SIDE_SRC)) < 0) return r;
  if (want_dst && !j->dst_registered && (r = register_side(j, ZC_SIDE_DST)) < 0) return r;
  j->wait_src = want_src;
  j->wait_dst = want_dst;
  j->waits++;
  return 0;
}

/* The open file description outlives our dup (Node holds the original fd),
 * so epoll would keep the item and its dangling data.ptr after close(dup):
 * always DEL first (epoll(7), "Will closing a file descriptor cause it to be
 * removed from all epoll interest lists?"). */
void zc__loop_forget(zc_job_t* j) {
  if (j->src_registered) epoll_ctl(j->loop->epoll_fd, EPOLL_CTL_DEL, j->src_dup, NULL);
  if (j->dst_registered) epoll_ctl(j->loop->epoll_fd, EPOLL_CTL_DEL, j->dst_dup, NULL);
  j->src_registered = j->dst_registered = 0;
}

static void unlink_job(zc_job_t* j) {
  zc_loop_t* loop = j->loop;
  if (j->prev) j->prev->next = j->next;
  else loop->jobs = j->next;
  if (j->next) j->next->prev = j->prev;
  j->prev = j->next = NULL;
}

static void release_fds(zc_job_t* j) {
  zc__loop_forget(j);
  zc__close(j->src_dup);
  zc__close(j->dst_dup);
  j->src_dup = j->dst_dup = -1;
}

void zc__job_finish(zc_job_t* j, int status, int failed_syscall) {
  if (j->state == ZC_JOB_DONE) return;
  j->state = ZC_JOB_DONE;
  j->status = status;
  j->failed_syscall = failed_syscall;
  release_fds(j);
  unlink_job(j);
  set_active(j->loop, -1);
  if (j->done_cb) j->done_cb(j);
  zc_job_unref(j);
}

void zc__loop_queue_ready(zc_job_t* j) {
  zc_loop_t* loop = j->loop;
  j->state = ZC_JOB_QUEUED;
  j->ready_next = NULL;
  zc_job_ref(j);
  if (loop->ready_tail) {
    loop->ready_tail->ready_next = j;
  } else {
    uint64_t one = 1;
    loop->ready = j;
    /* Cannot fail short of a counter overflow; a lost wakeup would only
     * delay the job to the next event in the set. */
    (void)!write(loop->ready_fd, &one, sizeof one);
  }
  loop->ready_tail = j;
}

/* Runs a job that became ready, or, once this callback has moved its
 * ZC_BYTES_PER_DISPATCH, puts it on the ready list for the next loop turn
 * (it stays ready: its flags are set, and a queued job runs whatever it
 * waits on). The caller holds a reference, so `j` outlives the advance. */
static void dispatch(zc_job_t* j) {
  zc_loop_t* loop = j->loop;
  if (loop->dispatched >= ZC_BYTES_PER_DISPATCH) {
    zc__loop_queue_ready(j);
    return;
  }
  int64_t before = j->moved;
  zc__job_advance(j);
  loop->dispatched += j->moved - before;
}

static void run_ready(zc_loop_t* loop) {
  uint64_t count;
  (void)!read(loop->ready_fd, &count, sizeof count);
  zc_job_t* j = loop->ready;
  loop->ready = loop->ready_tail = NULL;
  /* Jobs that yield again go onto a fresh list and run on the next wakeup. */
  while (j) {
    zc_job_t* next = j->ready_next;
    if (j->state == ZC_JOB_QUEUED) dispatch(j);
    zc_job_unref(j);
    j = next;
  }
}

static zc_job_t* job_of(const struct epoll_event* ev) {
  if (ev->data.u64 == ZC_RING_TAG) return NULL;
  return (zc_job_t*)(uintptr_t)(ev->data.u64 & ~(uint64_t)ZC_DST_TAG);
}

/* One edge for one side of a job: note it, end the job if the side reports
 * an error, run the job if it waits on that side. Jobs on the threadpool or
 * running only take the note (an error shows in their next call). */
static void deliver(zc_job_t* j, int side, uint32_t events) {
  j->wakeups++;
  if (side == ZC_SIDE_SRC) {
    j->src_ready = 1;
    if (events & (EPOLLRDHUP | EPOLLHUP)) j->src_hangup_seen = 1;
  } else {
    j->dst_ready = 1;
  }
  /* A send job's EPOLLERR is (also) zero-copy completions on the error
   * queue: it must read them, and sees a real error in its next send. */
  if (zc__is_send_mode(j->mode)) j->errqueue_ready |= (events & EPOLLERR) != 0;
  if (j->state != ZC_JOB_POLLING && j->state != ZC_JOB_QUEUED) return;
  if ((events & (EPOLLERR | EPOLLHUP)) && !zc__is_send_mode(j->mode) &&
      zc__job_check_side(j, side, (events & EPOLLERR) != 0, (events & EPOLLHUP) != 0) < 0)
    return;
  if (j->state == ZC_JOB_POLLING && ((j->wait_src && j->src_ready) || (j->wait_dst && j->dst_ready)))
    dispatch(j);
}

/* One epoll_wait per libuv wakeup: if more than a batch is ready, the epoll
 * fd stays readable and libuv calls again after its other handles.
 *
 * That is a second epoll call per wakeup (libuv's epoll_pwait, then this
 * one). Issue 16 asked whether a uv_poll_t per dup could save it. It would
 * not pay: libuv's epoll is level-triggered, so a job that switches between
 * waiting on src and on dst (every bulk relay, every sendfile that fills the
 * socket) would have to restart its uv_poll_t, and uv_poll_start() re-arms
 * with epoll_ctl(DEL) then ADD at the next loop turn. uv_poll_init() adds a
 * FIONBIO ioctl and an ADD/DEL probe per fd. And POLLERR stops a uv_poll_t,
 * while a MSG_ZEROCOPY send job gets every completion as EPOLLERR. The
 * edge-triggered registration here costs no epoll_ctl after the first wait.
 * Measured (perf record -g on `zerocopy proxy`, one connection, 16-byte
 * request/response, 4 s at 4,999 Hz): this epoll_wait is 1.0% of the
 * proxy's CPU; the kernel's wake-up path is most of the rest (send() waking
 * the peer 39%, epoll_pwait sleeping and waking 45%), as it is for HAProxy. */
static void on_epoll_readable(uv_poll_t* handle, int status, int events) {
  zc_loop_t* loop = handle->data;
  struct epoll_event evs[ZC_EVENTS_PER_WAKEUP];
  (void)status;
  (void)events;
  int n = epoll_wait(loop->epoll_fd, evs, ZC_EVENTS_PER_WAKEUP, 0);
  if (n <= 0) return;
  loop->dispatched = 0;
  loop->dispatching++;
  /* An earlier job's completion may cancel (and free) a later one in the batch. */
  for (int i = 0; i < n; i++)
    if (job_of(&evs[i])) zc_job_ref(job_of(&evs[i]));
  for (int i = 0; i < n; i++) {
    zc_job_t* j = job_of(&evs[i]);
    if (j == NULL) {
      if (evs[i].data.u64 == ZC_RING_TAG) zc__uring_reap(loop->uring, zc__send_on_cqe);
      else run_ready(loop);
      continue;
    }
    if (j->state != ZC_JOB_DONE)
      deliver(j, (evs[i].data.u64 & ZC_DST_TAG) ? ZC_SIDE_DST : ZC_SIDE_SRC, evs[i].events);
    zc_job_unref(j);
  }
  loop->dispatching--;
}

static void offload_work(uv_work_t* req) {
  zc__job_run_offloaded(req->data);
}

static void offload_done(uv_work_t* req, int status) {
  zc_job_t* j = req->data;
  zc_loop_t* loop = j->loop;
  loop->in_flight--;
  if (loop->closing) {
    /* The environment is going away: release what the worker used, call no one. */
    zc__close(j->src_dup);
    zc__close(j->dst_dup);
    j->src_dup = j->dst_dup = -1;
    zc_job_unref(j);
    maybe_free(loop);
    return;
  }
  loop->dispatching++;
  zc__job_after_offload(j, status == UV_ECANCELED);
  zc_job_unref(j);
  loop->dispatching--;
}

int zc__loop_offload(zc_job_t* j) {
  j->work.data = j;
  j->state = ZC_JOB_OFFLOADED;
  int r = uv_queue_work(j->loop->uv_loop, &j->work, offload_work, offload_done);
  if (r != 0) return r;
  zc_job_ref(j);
  j->loop->in_flight++;
  return 0;
}

int zc_job_start(zc_loop_t* loop, zc_job_t* j) {
  j->loop = loop;
  j->src_dup = j->dst_dup = -1;
  j->src_ready = j->dst_ready = 1; /* unknown until a call says otherwise */
  j->failed_syscall = ZC_SYS_DUP;
  j->failed_side = ZC_SIDE_SRC;
  /* Send jobs have no source fd: their bytes are the caller's buffers. */
  if (!zc__is_send_mode(j->mode) && (j->src_dup = zc__dup(j->src_fd)) < 0) return j->src_dup;
  j->zc_first_id = j->zc_next_id;
  j->failed_side = ZC_SIDE_DST;
  if ((j->dst_dup = zc__dup(j->dst_fd)) < 0) {
    int r = j->dst_dup;
    zc__close(j->src_dup);
    return r;
  }
  j->failed_side = ZC_SIDE_NONE;
  if (j->mode == ZC_MODE_COPY || ((j->flags & ZC_SMALL_COPY) && j->pipe_rd >= 0)) {
    j->buffer = malloc(j->copy_buffer_size);
    if (j->buffer == NULL) {
      j->failed_syscall = ZC_SYS_MALLOC;
      j->failed_side = ZC_SIDE_NONE;
      release_fds(j);
      return -ENOMEM;
    }
  }
  j->failed_syscall = ZC_SYS_NONE;
  j->refs++;
  j->next = loop->jobs;
  if (loop->jobs) loop->jobs->prev = j;
  loop->jobs = j;
  set_active(loop, 1);
  zc__job_advance(j);
  return 0;
}

void zc_job_cancel(zc_job_t* j) {
  if (j->state == ZC_JOB_DONE || j->state == ZC_JOB_NEW) return;
  /* Pages the kernel still holds: the job ends when it lets go of them. */
  if (zc__is_send_mode(j->mode) && zc__send_cancel(j)) return;
  if (j->state == ZC_JOB_OFFLOADED) {
    /* The worker is using the dups; they close when it returns. */
    j->cancel_requested = 1;
    uv_cancel((uv_req_t*)&j->work);
    return;
  }
  zc__job_finish(j, ZC_STATUS_CANCELED, ZC_SYS_NONE);
}

int zc_loop_init(zc_loop_t** out, uv_loop_t* uv_loop) {
  zc_loop_t* loop = calloc(1, sizeof *loop);
  if (loop == NULL) return -ENOMEM;
  loop->uv_loop = uv_loop;
  loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (loop->epoll_fd < 0) {
    int r = -errno;
    free(loop);
    return r;
  }
  loop->ready_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data = {.ptr = NULL}};
  if (loop->ready_fd < 0 || epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->ready_fd, &ev) != 0) {
    int r = -errno;
    zc__close(loop->ready_fd);
    zc__close(loop->epoll_fd);
    free(loop);
    return r;
  }
  int r = uv_poll_init(uv_loop, &loop->poll, loop->epoll_fd);
  if (r == 0) r = uv_poll_start(&loop->poll, UV_READABLE, on_epoll_readable);
  if (r != 0) {
    zc__close(loop->ready_fd);
    zc__close(loop->epoll_fd);
    free(loop);
    return r;
  }
  loop->poll.data = loop;
  uv_unref((uv_handle_t*)&loop->poll);
  *out = loop;
  return 0;
}

static void on_poll_closed(uv_handle_t* handle) {
  zc_loop_t* loop = handle->data;
  zc__close(loop->ready_fd);
  zc__close(loop->epoll_fd);
  loop->poll_closed = 1;
  maybe_free(loop);
}

void zc_loop_close(zc_loop_t* loop, void (*closed_cb)(void* arg), void* arg) {
  loop->closing = 1;
  loop->closed_cb = closed_cb;
  loop->closed_arg = arg;
  while (loop->jobs) {
    zc_job_t* j = loop->jobs;
    int offloaded = j->state == ZC_JOB_OFFLOADED;
    unlink_job(j);
    j->state = ZC_JOB_DONE;
    if (offloaded) {
      /* The worker is using the dups: offload_done closes them. */
      uv_cancel((uv_req_t*)&j->work);
    } else {
      release_fds(j);
    }
    zc_job_unref(j);
  }
  while (loop->ready) {
    zc_job_t* j = loop->ready;
    loop->ready = j->ready_next;
    zc_job_unref(j);
  }
  loop->ready_tail = NULL;
  /* Closing the ring cancels what it holds; the CQEs will never be read. */
  if (loop->uring) {
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, zc__uring_fd(loop->uring), NULL);
    zc__uring_close(loop->uring);
    loop->uring = NULL;
  }
  zc__send_forget_requests(loop);
  uv_close((uv_handle_t*)&loop->poll, on_poll_closed);
}

/* Sized for one send per job in flight plus its cancel; the CQ (twice as
 * large) overflows into the kernel's list when more wait, never losing one. */
#define ZC_RING_ENTRIES 64

int zc__loop_uring(zc_loop_t* loop, zc_uring_t** out) {
  if (loop->uring == NULL) {
    zc_uring_t* ring;
    int r = zc__uring_open(&ring, ZC_RING_ENTRIES);
    if (r < 0) return r;
    /* Level-triggered: readable while CQEs wait, and each wakeup reaps all. */
    struct epoll_event ev = {.events = EPOLLIN, .data = {.u64 = ZC_RING_TAG}};
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, zc__uring_fd(ring), &ev) != 0) {
      r = -errno;
      zc__uring_close(ring);
      return r;
    }
    loop->uring = ring;
  }
  *out = loop->uring;
  return 0;
}

void** zc__loop_send_requests(zc_loop_t* loop) {
  return &loop->send_requests;
}

int zc_loop_is_dispatching(const zc_loop_t* loop) {
  return loop->dispatching > 0;
}

unsigned zc_loop_active_jobs(const zc_loop_t* loop) {
  return loop->active;
}

static void call_work(uv_work_t* req) {
  zc_call_t* c = req->data;
  switch (c->op) {
    case ZC_CALL_COPY_FILE_RANGE:
      c->result = zc__copy_file_range(c->fd_in, c->off_in >= 0 ? &c->off_in : NULL, c->fd_out,
                                      c->off_out >= 0 ? &c->off_out : NULL, c->length);
      break;
    case ZC_CALL_OPENAT2:
      c->result = zc__openat2(c->fd_in, c->path, c->flags, c->mode, c->resolve);
      break;
    default:
      c->result = -ENOSYS;
  }
}

static void call_done(uv_work_t* req, int status) {
  zc_call_t* c = req->data;
  zc_loop_t* loop = c->loop;
  loop->in_flight--;
  zc__close(c->fd_in);
  zc__close(c->fd_out);
  c->fd_in = c->fd_out = -1;
  if (status == UV_ECANCELED) c->result = -ECANCELED;
  if (loop->closing) {
    /* Nobody is left to receive the result; an fd opened for nobody must not leak. */
    if (c->op == ZC_CALL_OPENAT2 && c->result >= 0) zc__close((int)c->result);
    free(c->path);
    free(c);
    maybe_free(loop);
    return;
  }
  loop->dispatching++;
  c->done_cb(c);
  loop->dispatching--;
}

/* A descriptor the call owns for its lifetime: a dup of fd, or fd itself
 * when it is not one (AT_FDCWD, -1). */
static int own_fd(int fd) {
  return fd >= 0 ? zc__dup(fd) : fd;
}

int zc_call_queue(zc_loop_t* loop, zc_call_t* call) {
  call->loop = loop;
  call->work.data = call;
  int in = own_fd(call->fd_in);
  if (call->fd_in >= 0 && in < 0) return in;
  int out = own_fd(call->fd_out);
  if (call->fd_out >= 0 && out < 0) {
    zc__close(in);
    return out;
  }
  call->fd_in = in;
  call->fd_out = out;
  int r = uv_queue_work(loop->uv_loop, &call->work, call_work, call_done);
  if (r != 0) {
    zc__close(in);
    zc__close(out);
    return r;
  }
  loop->in_flight++;
  return 0;
}
