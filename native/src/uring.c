/*
 * io_uring from raw syscalls (no liburing: no new library to install): one
 * ring, its three mappings, submitting one SQE at a time and reaping CQEs.
 * The ring's fd is pollable (readable while CQEs wait), so the engine
 * watches it in its private epoll set like any other fd.
 *
 * Only structs come from <linux/io_uring.h> (stable since 5.1); opcodes and
 * flags newer than the oldest headers we build against are defined here
 * (their values are ABI). Without the header at all, io_uring is compiled
 * out and reported as ENOSYS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform.h"

#if defined(__has_include)
#if __has_include(<linux/io_uring.h>)
#include <linux/io_uring.h>
#define ZC_HAVE_IO_URING 1
#endif
#endif

#ifdef ZC_HAVE_IO_URING

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425 /* same on every architecture (5.1) */
#define __NR_io_uring_enter 426
#define __NR_io_uring_register 427
#endif

#define ZC_IORING_OP_ASYNC_CANCEL 14            /* 5.5 */
#define ZC_IORING_OP_SEND 26                    /* 5.6 */
#define ZC_IORING_OP_SPLICE 30                  /* 5.7 */
#define ZC_IORING_OP_SEND_ZC 47                 /* 6.0 */
#define ZC_IORING_OP_SENDMSG_ZC 48              /* 6.1 */
#define ZC_IORING_SEND_ZC_REPORT_USAGE (1U << 3) /* 6.2 */
#define ZC_IORING_ENTER_GETEVENTS (1U << 0)
#define ZC_IORING_SQ_CQ_OVERFLOW (1U << 1)
#define ZC_IORING_FEAT_SINGLE_MMAP (1U << 0)
#define ZC_IORING_REGISTER_PROBE 8
#define ZC_IO_URING_OP_SUPPORTED (1U << 0)
#define ZC_PROBE_OPS 256

struct zc_uring_s {
  int fd;
  uint32_t features;
  unsigned sq_entries, sq_mask, cq_mask;
  unsigned *sq_head, *sq_tail, *sq_flags, *sq_array;
  unsigned *cq_head, *cq_tail;
  struct io_uring_sqe* sqes;
  struct io_uring_cqe* cqes;
  void* sq_map;
  size_t sq_map_size;
  void* cq_map; /* == sq_map with IORING_FEAT_SINGLE_MMAP */
  size_t cq_map_size;
  size_t sqes_size;
};

static int enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags) {
  long r;
  do r = syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
  while (r < 0 && errno == EINTR);
  return r < 0 ? -errno : (int)r;
}

static void unmap(zc_uring_t* r) {
  if (r->sqes != NULL && r->sqes != MAP_FAILED) munmap(r->sqes, r->sqes_size);
  if (r->cq_map != NULL && r->cq_map != MAP_FAILED && r->cq_map != r->sq_map) munmap(r->cq_map, r->cq_map_size);
  if (r->sq_map != NULL && r->sq_map != MAP_FAILED) munmap(r->sq_map, r->sq_map_size);
}

int zc__uring_open(zc_uring_t** out, unsigned entries) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  /* The fd is O_CLOEXEC already. No COOP_TASKRUN: with it, completions
   * would wait for our next io_uring_enter instead of waking the epoll set. */
  long fd = syscall(__NR_io_uring_setup, entries, &p);
  if (fd < 0) return -errno;
  zc_uring_t* r = calloc(1, sizeof *r);
  if (r == NULL) {
    close((int)fd);
    return -ENOMEM;
  }
  r->fd = (int)fd;
  r->features = p.features;
  r->sq_map_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  r->cq_map_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (p.features & ZC_IORING_FEAT_SINGLE_MMAP) {
    if (r->cq_map_size > r->sq_map_size) r->sq_map_size = r->cq_map_size;
    r->cq_map_size = r->sq_map_size;
  }
  r->sq_map = mmap(NULL, r->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  if (r->sq_map == MAP_FAILED) goto fail;
  if (p.features & ZC_IORING_FEAT_SINGLE_MMAP) {
    r->cq_map = r->sq_map;
  } else {
    r->cq_map = mmap(NULL, r->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
    if (r->cq_map == MAP_FAILED) goto fail;
  }
  r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
  r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) goto fail;
  char* sq = r->sq_map;
  char* cq = r->cq_map;
  r->sq_head = (unsigned*)(sq + p.sq_off.head);
  r->sq_tail = (unsigned*)(sq + p.sq_off.tail);
  r->sq_flags = (unsigned*)(sq + p.sq_off.flags);
  r->sq_array = (unsigned*)(sq + p.sq_off.array);
  r->sq_mask = *(unsigned*)(sq + p.sq_off.ring_mask);
  r->sq_entries = *(unsigned*)(sq + p.sq_off.ring_entries);
  r->cq_head = (unsigned*)(cq + p.cq_off.head);
  r->cq_tail = (unsigned*)(cq + p.cq_off.tail);
  r->cq_mask = *(unsigned*)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe*)(cq + p.cq_off.cqes);
  *out = r;
  return 0;

fail: {
  int err = -errno;
  unmap(r);
  close(r->fd);
  free(r);
  return err;
}
}

void zc__uring_close(zc_uring_t* r) {
  if (r == NULL) return;
  unmap(r);
  close(r->fd);
  free(r);
}

int zc__uring_fd(const zc_uring_t* r) {
  return r->fd;
}

/* A zeroed SQE at the tail, or NULL when the submission queue is full. */
static struct io_uring_sqe* get_sqe(zc_uring_t* r) {
  unsigned head = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
  unsigned tail = *r->sq_tail;
  if (tail - head >= r->sq_entries) return NULL;
  unsigned index = tail & r->sq_mask;
  struct io_uring_sqe* sqe = &r->sqes[index];
  memset(sqe, 0, sizeof *sqe);
  r->sq_array[index] = index;
  return sqe;
}

/* Publishes the SQE get_sqe returned and submits it. Without SQPOLL the
 * kernel consumes it inside io_uring_enter; when the call fails it consumed
 * nothing, and the tail is put back so the SQE is never submitted later
 * (its user_data would point at freed memory). */
static int submit_one(zc_uring_t* r) {
  unsigned tail = *r->sq_tail;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
  int n = enter(r->fd, 1, 0, 0);
  if (n < 0) {
    __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
    return n;
  }
  return n == 1 ? 0 : -EAGAIN;
}

/* No MSG_DONTWAIT: on a full socket io_uring arms its own poll and sends
 * when there is room, then posts the CQE. */
int zc__uring_send(zc_uring_t* r, int fd, const void* buf, size_t length, int zerocopy, uint64_t user_data) {
  struct io_uring_sqe* sqe = get_sqe(r);
  if (sqe == NULL) return -EBUSY;
  sqe->opcode = zerocopy ? ZC_IORING_OP_SEND_ZC : ZC_IORING_OP_SEND;
  sqe->fd = fd;
  sqe->addr = (uint64_t)(uintptr_t)buf;
  sqe->len = (uint32_t)(length > 0x7ffff000 ? 0x7ffff000 : length);
  sqe->msg_flags = MSG_NOSIGNAL;
  /* SEND_ZC's own flags live in ioprio; the usage report is how the
   * notification says whether the kernel copied after all. */
  if (zerocopy) sqe->ioprio = ZC_IORING_SEND_ZC_REPORT_USAGE;
  sqe->user_data = user_data;
  return submit_one(r);
}

int zc__uring_cancel(zc_uring_t* r, uint64_t user_data) {
  struct io_uring_sqe* sqe = get_sqe(r);
  if (sqe == NULL) return -EBUSY;
  sqe->opcode = ZC_IORING_OP_ASYNC_CANCEL;
  sqe->fd = -1;
  sqe->addr = user_data;
  sqe->user_data = 0;
  return submit_one(r);
}

unsigned zc__uring_reap(zc_uring_t* r, zc_uring_cqe_cb cb) {
  unsigned count = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (;;) {
      unsigned head = *r->cq_head;
      unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
      if (head == tail) break;
      struct io_uring_cqe* cqe = &r->cqes[head & r->cq_mask];
      uint64_t user_data = cqe->user_data;
      int32_t res = cqe->res;
      uint32_t flags = cqe->flags;
      /* Release the slot before the callback, which may submit more. */
      __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
      cb(user_data, res, flags);
      count++;
    }
    /* A CQ that overflowed keeps the rest in the kernel (IORING_FEAT_NODROP,
     * 5.5): io_uring_enter(GETEVENTS) moves them into the ring. */
    if (!(__atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & ZC_IORING_SQ_CQ_OVERFLOW)) break;
    (void)enter(r->fd, 0, 0, ZC_IORING_ENTER_GETEVENTS);
  }
  return count;
}

/* Whether SEND_ZC takes IORING_SEND_ZC_REPORT_USAGE (6.2): a send to fd -1
 * with the flag fails with EBADF where the flag is known, EINVAL where not
 * (the flags are checked before the file is looked up). */
static int probe_send_zc_usage(zc_uring_t* r) {
  struct io_uring_sqe* sqe = get_sqe(r);
  if (sqe == NULL) return -EBUSY;
  static char byte;
  sqe->opcode = ZC_IORING_OP_SEND_ZC;
  sqe->fd = -1;
  sqe->addr = (uint64_t)(uintptr_t)&byte;
  sqe->len = 1;
  sqe->ioprio = ZC_IORING_SEND_ZC_REPORT_USAGE;
  sqe->user_data = 1;
  unsigned tail = *r->sq_tail;
  __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
  int n = enter(r->fd, 1, 1, ZC_IORING_ENTER_GETEVENTS);
  if (n < 0) {
    __atomic_store_n(r->sq_tail, tail, __ATOMIC_RELEASE);
    return n;
  }
  unsigned head = *r->cq_head;
  if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) return -EAGAIN;
  int32_t res = r->cqes[head & r->cq_mask].res;
  __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
  return res == -EBADF ? 0 : res;
}

void zc__probe_uring(zc_uring_probe_t* out) {
  memset(out, 0, sizeof *out);
  zc_uring_t* r;
  int status = zc__uring_open(&r, 4);
  if (status < 0) {
    out->status = status;
    return;
  }
  out->features = r->features;
  size_t size = sizeof(struct io_uring_probe) + ZC_PROBE_OPS * sizeof(struct io_uring_probe_op);
  struct io_uring_probe* probe = calloc(1, size);
  if (probe == NULL) {
    out->status = -ENOMEM;
  } else if (syscall(__NR_io_uring_register, r->fd, ZC_IORING_REGISTER_PROBE, probe, ZC_PROBE_OPS) < 0) {
    out->status = -errno; /* EINVAL before 5.6 */
  } else {
    int ops = probe->ops_len;
    out->last_op = probe->last_op;
#define SUPPORTED(op) ((op) < ops && (probe->ops[(op)].flags & ZC_IO_URING_OP_SUPPORTED) ? 1 : 0)
    out->send_zc = SUPPORTED(ZC_IORING_OP_SEND_ZC);
    out->sendmsg_zc = SUPPORTED(ZC_IORING_OP_SENDMSG_ZC);
    out->splice = SUPPORTED(ZC_IORING_OP_SPLICE);
#undef SUPPORTED
    out->send_zc_usage = out->send_zc ? probe_send_zc_usage(r) : -EOPNOTSUPP;
  }
  free(probe);
  zc__uring_close(r);
}

#else /* no <linux/io_uring.h> at build time */

struct zc_uring_s {
  int fd;
};
int zc__uring_open(zc_uring_t** out, unsigned entries) {
  (void)out;
  (void)entries;
  return -ENOSYS;
}
void zc__uring_close(zc_uring_t* r) {
  (void)r;
}
int zc__uring_fd(const zc_uring_t* r) {
  return r->fd;
}
int zc__uring_send(zc_uring_t* r, int fd, const void* buf, size_t length, int zerocopy, uint64_t user_data) {
  return -ENOSYS;
}
int zc__uring_cancel(zc_uring_t* r, uint64_t user_data) {
  return -ENOSYS;
}
unsigned zc__uring_reap(zc_uring_t* r, zc_uring_cqe_cb cb) {
  return 0;
}
void zc__probe_uring(zc_uring_probe_t* out) {
  memset(out, 0, sizeof *out);
  out->status = -ENOSYS;
}

#endif
