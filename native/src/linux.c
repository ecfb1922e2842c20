/*
 * One function per syscall. Each retries EINTR, returns >= 0 or -errno and
 * keeps no state; callers decide what an errno means.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "platform.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
#ifndef SYS_openat2
#define SYS_openat2 437 /* same number on every architecture (added in 5.6) */
#endif

#ifndef SYS_cachestat
#define SYS_cachestat 451 /* same number on every architecture (added in 6.5) */
#endif

/* struct cachestat_range and struct cachestat from <linux/mman.h> (6.5). */
struct zc__cachestat_range {
  uint64_t off;
  uint64_t len;
};
struct zc__cachestat {
  uint64_t nr_cache;
  uint64_t nr_dirty;
  uint64_t nr_writeback;
  uint64_t nr_evicted;
  uint64_t nr_recently_evicted;
};

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60 /* Linux 4.14 */
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#define ZC__SO_EE_ORIGIN_ZEROCOPY 5
#define ZC__SO_EE_CODE_ZEROCOPY_COPIED 1

/* struct sock_extended_err from <linux/errqueue.h> (which needs <time.h> first
 * on some header versions; the layout is ABI). */
struct zc__sock_extended_err {
  uint32_t ee_errno;
  uint8_t ee_origin;
  uint8_t ee_type;
  uint8_t ee_code;
  uint8_t ee_pad;
  uint32_t ee_info;
  uint32_t ee_data;
};

/* struct open_how from <linux/openat2.h>; the build headers may predate it. */
struct zc__open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};

#define ZC__RETRY(expr)                      \
  ({                                         \
    ssize_t zc__r;                           \
    do zc__r = (expr);                       \
    while (zc__r == -1 && errno == EINTR);   \
    zc__r == -1 ? (ssize_t)-errno : zc__r;   \
  })

ssize_t zc__sendfile(int out_fd, int in_fd, int64_t* offset, size_t count) {
  if (offset == NULL) return ZC__RETRY(sendfile(out_fd, in_fd, NULL, count));
  off_t off = (off_t)*offset;
  ssize_t r = ZC__RETRY(sendfile(out_fd, in_fd, &off, count));
  if (r > 0) *offset = (int64_t)off;
  return r;
}

/* SPLICE_F_MORE is deliberately absent: it delays small interactive writes
 * (Go removed it from its splice path for the same ~200 ms stall). */
ssize_t zc__splice(int in_fd, int64_t* in_offset, int out_fd, size_t count) {
  const unsigned flags = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
  if (in_offset == NULL) return ZC__RETRY(splice(in_fd, NULL, out_fd, NULL, count, flags));
  loff_t off = (loff_t)*in_offset;
  ssize_t r = ZC__RETRY(splice(in_fd, &off, out_fd, NULL, count, flags));
  if (r > 0) *in_offset = (int64_t)off;
  return r;
}

ssize_t zc__tee(int in_fd, int out_fd, size_t count) {
  return ZC__RETRY(tee(in_fd, out_fd, count, SPLICE_F_NONBLOCK));
}

ssize_t zc__copy_file_range(int in_fd, int64_t* in_offset, int out_fd, int64_t* out_offset,
                            size_t count) {
  loff_t in_off = in_offset ? (loff_t)*in_offset : 0;
  loff_t out_off = out_offset ? (loff_t)*out_offset : 0;
  ssize_t r = ZC__RETRY(copy_file_range(in_fd, in_offset ? &in_off : NULL, out_fd,
                                        out_offset ? &out_off : NULL, count, 0));
  if (r > 0) {
    if (in_offset) *in_offset = (int64_t)in_off;
    if (out_offset) *out_offset = (int64_t)out_off;
  }
  return r;
}

ssize_t zc__read(int fd, void* buf, size_t count, int64_t* offset) {
  if (offset == NULL) return ZC__RETRY(read(fd, buf, count));
  ssize_t r = ZC__RETRY(pread(fd, buf, count, (off_t)*offset));
  if (r > 0) *offset += r;
  return r;
}

/* MSG_NOSIGNAL: Node ignores SIGPIPE, but an embedder might not. */
ssize_t zc__write(int fd, const void* buf, size_t count, int is_socket, int more) {
  if (is_socket) {
    int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
    ssize_t r = ZC__RETRY(send(fd, buf, count, flags));
    if (r != -ENOTSOCK) return r;
  }
  return ZC__RETRY(write(fd, buf, count));
}

int zc__dup(int fd) {
  return (int)ZC__RETRY(fcntl(fd, F_DUPFD_CLOEXEC, 0));
}

/* close() is never retried: on Linux the fd is gone even when it reports EINTR. */
void zc__close(int fd) {
  if (fd >= 0) close(fd);
}

int zc__fstat_size(int fd, int64_t* size) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  *size = (int64_t)st.st_size;
  return 0;
}

/* What a file's version is made of (src/fs/file-version.ts), as doubles:
 * dev, ino, nlink, size, mtime seconds, mtime nanoseconds, ctime seconds,
 * ctime nanoseconds. Every field is exact in a double except dev/ino/size
 * beyond 2^53, which no local file system hands out. */
static void zc__version_of(const struct stat* st, double out[ZC_VERSION_SLOTS]) {
  out[0] = (double)st->st_dev;
  out[1] = (double)st->st_ino;
  out[2] = (double)st->st_nlink;
  out[3] = (double)st->st_size;
  out[4] = (double)st->st_mtim.tv_sec;
  out[5] = (double)st->st_mtim.tv_nsec;
  out[6] = (double)st->st_ctim.tv_sec;
  out[7] = (double)st->st_ctim.tv_nsec;
}

/* fstatat(dirfd, path) following symlinks (AT_FDCWD and absolute paths work
 * too): the version of what the path names now. 0 or -errno. */
int zc__stat_version_at(int dirfd, const char* path, double out[ZC_VERSION_SLOTS]) {
  struct stat st;
  if (fstatat(dirfd, path, &st, 0) != 0) return -errno;
  zc__version_of(&st, out);
  return 0;
}

/* fstat(fd): the version of an open file. 0 or -errno. */
int zc__fstat_version(int fd, double out[ZC_VERSION_SLOTS]) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  zc__version_of(&st, out);
  return 0;
}

/* The S_IFMT bits of an fd's mode: cheaper for JavaScript than an fs.Stats object. */
int zc__file_type(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return -errno;
  return (int)(st.st_mode & S_IFMT);
}

int64_t zc__file_position(int fd) {
  off_t r = lseek(fd, 0, SEEK_CUR);
  return r < 0 ? -errno : (int64_t)r;
}

/* A failed F_SETPIPE_SZ is not an error: non-root users hit fs.pipe-user-pages-soft
 * after a few dozen large pipes, and the default 64 KiB pipe still works. */
int zc__pipe(int fds[2], int size_hint, int* capacity) {
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
  if (size_hint > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, size_hint);
  int cap = fcntl(fds[1], F_GETPIPE_SZ);
  if (cap < 0) {
    int err = -errno;
    close(fds[0]);
    close(fds[1]);
    return err;
  }
  *capacity = cap;
  return 0;
}

/* pread that never waits for the disk: -EAGAIN when a page is not cached. */
ssize_t zc__pread_cached(int fd, void* buf, size_t count, int64_t offset) {
  struct iovec iov = {buf, count};
  return ZC__RETRY(preadv2(fd, &iov, 1, (off_t)offset, RWF_NOWAIT));
}

/* Bytes waiting in a pipe (FIONREAD on either end). */
int zc__pipe_bytes(int fd) {
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) != 0) return -errno;
  return n;
}

/* A socket's pending error (SO_ERROR, which also clears it): > 0 an errno,
 * 0 none, -errno when it cannot be read (-ENOTSOCK for a pipe). */
int zc__socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -errno;
  return err;
}

/* One zero-timeout poll(2) of a reading and a writing fd: which side is ready. */
int zc__poll_pair(int fd_in, int* in_events, int fd_out, int* out_events) {
  struct pollfd fds[2] = {{fd_in, POLLIN | POLLRDHUP, 0}, {fd_out, POLLOUT, 0}};
  int r = (int)ZC__RETRY(poll(fds, 2, 0));
  if (r < 0) return r;
  int* out[2] = {in_events, out_events};
  for (int i = 0; i < 2; i++) {
    short e = fds[i].revents;
    *out[i] = ((e & (POLLIN | POLLRDHUP)) ? ZC_POLL_IN : 0) | ((e & POLLOUT) ? ZC_POLL_OUT : 0) |
              ((e & (POLLERR | POLLNVAL)) ? ZC_POLL_ERROR : 0) | ((e & POLLHUP) ? ZC_POLL_HANGUP : 0);
  }
  return 0;
}

int zc__set_cork(int fd, int on) {
  return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0 ? 0 : -errno;
}

int zc__fadvise(int fd, int64_t offset, int64_t length, int advice) {
  return -posix_fadvise(fd, (off_t)offset, (off_t)length, advice);
}

static size_t zc__page_size(void) {
  static size_t page;
  if (page == 0) page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

/* One byte read with RWF_NOWAIT: EAGAIN means the page is not in the page cache.
 * Returns 1 cached, 0 not cached, -errno when the filesystem cannot tell. */
static int zc__probe_cached(int fd, int64_t offset) {
  char byte;
  struct iovec iov = {&byte, 1};
  ssize_t r = ZC__RETRY(preadv2(fd, &iov, 1, (off_t)offset, RWF_NOWAIT));
  if (r >= 0) return 1;
  return r == -EAGAIN ? 0 : (int)r;
}

/* Bytes of [offset, offset+length) present in the page cache, by page, via mincore.
 * mincore reports page-cache residency of a file mapping only to callers that own
 * the file or could write it (Linux >= 5.2); others see 0. Used by tests and tools. */
int64_t zc__cached_bytes(int fd, int64_t offset, int64_t length) {
  size_t page = zc__page_size();
  int64_t start = offset & ~(int64_t)(page - 1);
  size_t span = (size_t)(offset + length - start);
  if (length <= 0) return 0;
  void* map = mmap(NULL, span, PROT_READ, MAP_SHARED, fd, (off_t)start);
  if (map == MAP_FAILED) return -errno;
  size_t pages = (span + page - 1) / page;
  unsigned char vec[4096];
  int64_t cached = 0;
  for (size_t done = 0; done < pages;) {
    size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
    if (mincore((char*)map + done * page, n * page, vec) != 0) {
      int err = -errno;
      munmap(map, span);
      return err;
    }
    for (size_t i = 0; i < n; i++) cached += (vec[i] & 1) ? (int64_t)page : 0;
    done += n;
  }
  munmap(map, span);
  return cached;
}

/* Whether every page of [offset, offset+length) is in the page cache, counted
 * exactly by cachestat(2): 1 yes, 0 no, -errno when it cannot tell (ENOSYS
 * before Linux 6.5; EPERM on kernels that, like mincore, answer only callers
 * that own the file or may write it). */
static int zc__cachestat_cached(int fd, int64_t offset, size_t length) {
  /* Set once cachestat is known to be missing, so old kernels pay one ENOSYS
   * per process, not one per check. Shared by worker threads: atomics. */
  static int missing;
  if (__atomic_load_n(&missing, __ATOMIC_RELAXED)) return -ENOSYS;
  int64_t page = (int64_t)zc__page_size();
  int64_t first = offset / page;
  int64_t last = (offset + (int64_t)length - 1) / page;
  struct zc__cachestat_range range = {(uint64_t)(first * page), (uint64_t)((last - first + 1) * page)};
  struct zc__cachestat stat;
  if (syscall(SYS_cachestat, fd, &range, &stat, 0) != 0) {
    int err = errno;
    if (err == ENOSYS) __atomic_store_n(&missing, 1, __ATOMIC_RELAXED);
    return -err;
  }
  return stat.nr_cache >= (uint64_t)(last - first + 1);
}

/*
 * Whether reading [offset, offset+length) would wait for the disk, without
 * waiting. Returns 1 when the pages are cached (or it cannot tell: then the
 * caller reads inline, as Node would), 0 when one is missing.
 *
 * cachestat(2) counts every page of the range in one call (~7 µs per MiB,
 * about 3% of sendfile's own CPU), so a cold stretch anywhere is seen: a
 * video that was watched in parts is cached in stretches, and a seek lands
 * anywhere. Where cachestat is missing or refused, it samples instead: one
 * byte read with preadv2(RWF_NOWAIT) every `stride` bytes and at the range's
 * last byte (~0.7 µs per probe). A cold stretch between two probes then costs
 * at most one stride's worth of blocking read on the loop; evicted files are
 * cold throughout, and those are what stall a server. Not mincore: it needs
 * an mmap per check, costs ~60 ns per page and has cachestat's permission
 * rule.
 */
int zc__is_cached(int fd, int64_t offset, size_t length, size_t stride) {
  if (length == 0) return 1;
  int exact = zc__cachestat_cached(fd, offset, length);
  if (exact >= 0) return exact;
  int64_t page = (int64_t)zc__page_size();
  int64_t last = offset + (int64_t)length - 1;
  for (int64_t at = offset;; at += (int64_t)stride) {
    if (at > last) at = last;
    int r = zc__probe_cached(fd, at);
    if (r == 0) return 0;
    if (r < 0) return 1;
    /* The page holding `last` was just probed: done (one probe for a small range). */
    if (at / page == last / page) return 1;
  }
}

/* openat2 with RESOLVE_* flags; O_CLOEXEC is always added. ENOSYS before Linux 5.6. */
int zc__openat2(int dirfd, const char* path, int flags, int mode, uint64_t resolve) {
  struct zc__open_how how = {(uint64_t)(flags | O_CLOEXEC), (uint64_t)mode, resolve};
  return (int)ZC__RETRY(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

/* sendmsg of an iovec list to a socket, never blocking, never raising SIGPIPE;
 * with `zerocopy`, MSG_ZEROCOPY (the pages are pinned, not copied, and a
 * completion is queued on the socket's error queue when the kernel lets go). */
ssize_t zc__sendmsg(int fd, const struct iovec* iov, int iov_count, int zerocopy) {
  struct msghdr msg = {.msg_iov = (struct iovec*)iov, .msg_iovlen = (size_t)iov_count};
  int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (zerocopy ? MSG_ZEROCOPY : 0);
  return ZC__RETRY(sendmsg(fd, &msg, flags));
}

/* setsockopt(SOL_SOCKET, SO_ZEROCOPY, 1): ENOPROTOOPT before Linux 4.14,
 * EOPNOTSUPP for sockets other than TCP and UDP (Unix sockets). */
int zc__enable_zerocopy(int fd) {
  int one = 1;
  return setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) == 0 ? 0 : -errno;
}

/*
 * One MSG_ZEROCOPY completion from the socket's error queue: the inclusive
 * range [*lo, *hi] of send calls the kernel has let go of, and whether it
 * had to copy them (SO_EE_CODE_ZEROCOPY_COPIED). Returns 1 for a completion,
 * 0 for another kind of queued error (skipped), -EAGAIN when the queue is
 * empty, or -errno. Reading the error queue never blocks.
 */
int zc__read_zerocopy_completion(int fd, uint32_t* lo, uint32_t* hi, int* copied) {
  char control[CMSG_SPACE(sizeof(struct zc__sock_extended_err) + 64)];
  struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof control};
  ssize_t r = ZC__RETRY(recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT));
  if (r < 0) return (int)r;
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
    int is_recverr = (cm->cmsg_level == SOL_IP && cm->cmsg_type == IP_RECVERR) ||
                     (cm->cmsg_level == SOL_IPV6 && cm->cmsg_type == IPV6_RECVERR);
    if (!is_recverr) continue;
    struct zc__sock_extended_err ee;
    memcpy(&ee, CMSG_DATA(cm), sizeof ee);
    if (ee.ee_origin != ZC__SO_EE_ORIGIN_ZEROCOPY || ee.ee_errno != 0) continue;
    *lo = ee.ee_info;
    *hi = ee.ee_data;
    *copied = (ee.ee_code & ZC__SO_EE_CODE_ZEROCOPY_COPIED) != 0;
    return 1;
  }
  return 0;
}

/* vmsplice of one user buffer into a pipe (no SPLICE_F_GIFT): the pipe then
 * references the caller's pages, and nothing says when it stops doing so.
 * For probes and tests only (docs/api/send-buffers.md: why it is not offered). */
ssize_t zc__vmsplice(int pipe_wr, const void* buf, size_t length) {
  struct iovec iov = {(void*)buf, length};
  return ZC__RETRY(vmsplice(pipe_wr, &iov, 1, SPLICE_F_NONBLOCK));
}

/* connect(AF_UNSPEC) on a TCP socket: tcp_disconnect() drops everything still
 * queued for sending and answers the peer with a reset, while the socket (and
 * its error queue) stays open for whoever holds it. */
int zc__disconnect(int fd) {
  struct sockaddr sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_family = AF_UNSPEC;
  return connect(fd, &sa, sizeof sa) == 0 ? 0 : -errno;
}
