/*
 * sendpath: the kernel side of user-memory sends, without Node in the way,
 * for bench/send.mjs (issue 12).
 *
 *   sendpath tap NAME [offload]
 *     Creates a persistent tap device with no reader (so its carrier is off
 *     and the kernel frees what is sent to it, as a NIC frees a packet after
 *     its DMA). With "offload", TUNSETOFFLOAD turns on TX checksum offload
 *     (and TSO): without it the kernel checksums, and so copies, every
 *     zero-copy page. Needs CAP_NET_ADMIN (root in a private namespace).
 *
 *   sendpath udp -d DEST -s WRITE_BYTES -n TOTAL_BYTES -m send|msg_zerocopy|send_zc
 *     DEST must be 127.0.0.1 or in a documentation range (192.0.2.0/24,
 *     198.51.100.0/24, 203.0.113.0/24: never routed), which the harness
 *     gives a tap or veth in a private network namespace.
 *     Sends TOTAL_BYTES as UDP datagrams of WRITE_BYTES to DEST:9 with plain
 *     send(), send(MSG_ZEROCOPY) or io_uring SEND_ZC, reads every completion
 *     and prints one JSON line:
 *       {"method":"msg_zerocopy","write":65000,"bytes":…,"sends":…,
 *        "completions":…,"copied":…,"enobufs":…,"seconds":…,"user":…,"sys":…}
 *     "copied" counts the sends whose completion carried
 *     SO_EE_CODE_ZEROCOPY_COPIED / IORING_NOTIF_USAGE_ZC_COPIED. user and
 *     sys are this process's CPU seconds (getrusage) for the sending loop.
 *
 *   sendpath tcp -p PORT -s WRITE_BYTES -n TOTAL_BYTES -m send|vmsplice
 *     Sends TOTAL_BYTES to 127.0.0.1:PORT in writes of WRITE_BYTES with
 *     send(), or with vmsplice() into a pipe and splice() to the socket
 *     (the pages are referenced, not copied, and nothing says when the
 *     kernel is done with them). Same JSON line.
 *
 *   sendpath hazard
 *     vmsplice + splice 64 KiB over loopback TCP, overwrite the buffer once
 *     both calls returned, and count how many received bytes show the
 *     overwrite: {"vmsplice_changed":…,"send_changed":…,"bytes":65536}.
 *
 * Build: cc -O2 -Wall -Wextra -o sendpath sendpath.c (no liburing: raw syscalls).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <linux/errqueue.h>
#include <linux/io_uring.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef SO_EE_ORIGIN_ZEROCOPY
#define SO_EE_ORIGIN_ZEROCOPY 5
#endif
#ifndef SO_EE_CODE_ZEROCOPY_COPIED
#define SO_EE_CODE_ZEROCOPY_COPIED 1
#endif
#define OP_SEND_ZC 47
#define SEND_ZC_REPORT_USAGE (1U << 3)
#define NOTIF_USAGE_ZC_COPIED (1U << 31)
#define CQE_F_MORE (1U << 1)
#define CQE_F_NOTIF (1U << 3)
#define RING_ENTRIES 64

static void die(const char *what) {
  fprintf(stderr, "sendpath: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

typedef struct {
  long long bytes, sends, completions, copied, enobufs;
} counts_t;

/* --- tap ------------------------------------------------------------------ */

static int make_tap(const char *name, int offload) {
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) die("TUNSETIFF");
  if (offload && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) != 0) die("TUNSETOFFLOAD");
  if (ioctl(fd, TUNSETPERSIST, 1) != 0) die("TUNSETPERSIST");
  close(fd); /* no reader: carrier off, what is sent is freed */
  return 0;
}

/* --- MSG_ZEROCOPY completions ---------------------------------------------- */

/* Reads every queued completion; returns how many send calls they covered. */
static long long drain_errqueue(int fd, counts_t *c) {
  long long covered = 0;
  for (;;) {
    char control[256];
    struct msghdr msg = {.msg_control = control, .msg_controllen = sizeof control};
    if (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return covered;
      if (errno == EINTR) continue;
      die("recvmsg(MSG_ERRQUEUE)");
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
      struct sock_extended_err *ee = (void *)CMSG_DATA(cm);
      if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno != 0) continue;
      long long n = (long long)(uint32_t)(ee->ee_data - ee->ee_info) + 1;
      covered += n;
      c->completions += n;
      if (ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED) c->copied += n;
    }
  }
}

static void wait_errqueue(int fd) {
  struct pollfd p = {fd, 0, 0}; /* POLLERR is reported without asking */
  if (poll(&p, 1, 1000) < 0 && errno != EINTR) die("poll");
}

/* --- io_uring (raw) -------------------------------------------------------- */

typedef struct {
  int fd;
  unsigned *sq_head, *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
  struct io_uring_sqe *sqes;
  struct io_uring_cqe *cqes;
} ring_t;

static void ring_open(ring_t *r) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  r->fd = (int)syscall(__NR_io_uring_setup, RING_ENTRIES, &p);
  if (r->fd < 0) die("io_uring_setup");
  size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
  if (cq_size > sq_size) sq_size = cq_size;
  char *sq = mmap(NULL, sq_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) die("mmap sq");
  char *cq = sq; /* IORING_FEAT_SINGLE_MMAP (5.4) */
  r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
  if (r->sqes == MAP_FAILED) die("mmap sqes");
  r->sq_head = (unsigned *)(sq + p.sq_off.head);
  r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
  r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
  r->sq_array = (unsigned *)(sq + p.sq_off.array);
  r->cq_head = (unsigned *)(cq + p.cq_off.head);
  r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
  r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
  r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

static int ring_enter(ring_t *r, unsigned submit, unsigned wait) {
  long n;
  do n = syscall(__NR_io_uring_enter, r->fd, submit, wait, wait ? IORING_ENTER_GETEVENTS : 0, NULL, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) die("io_uring_enter");
  return (int)n;
}

/* Reaps CQEs: send results and notifications. Returns requests fully done. */
static int ring_reap(ring_t *r, counts_t *c, int *owed_notifs) {
  int done = 0;
  unsigned head = *r->cq_head;
  while (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
    struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
    if (cqe->flags & CQE_F_NOTIF) {
      c->completions++;
      if ((uint32_t)cqe->res & NOTIF_USAGE_ZC_COPIED) c->copied++;
      (*owed_notifs)--;
      done++;
    } else {
      if (cqe->res < 0) {
        errno = -cqe->res;
        if (errno == ENOBUFS) c->enobufs++;
        else if (errno != ECONNREFUSED) die("SEND_ZC"); /* ICMP from a closed port: go on */
      } else {
        c->bytes += cqe->res;
      }
      if (cqe->flags & CQE_F_MORE) {
        c->sends++;
        (*owed_notifs)++;
      } else {
        done++;
      }
    }
    head++;
  }
  __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
  return done;
}

/* --- modes ----------------------------------------------------------------- */

static void print(const char *method, long long write_bytes, counts_t *c, double seconds, double user, double sys) {
  printf("{\"method\":\"%s\",\"write\":%lld,\"bytes\":%lld,\"sends\":%lld,\"completions\":%lld,\"copied\":%lld,"
         "\"enobufs\":%lld,\"seconds\":%.6f,\"user\":%.6f,\"sys\":%.6f}\n",
         method, write_bytes, c->bytes, c->sends, c->completions, c->copied, c->enobufs, seconds, user, sys);
}

static void udp(const char *dest, long long write_bytes, long long total, const char *method) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  int zc = strcmp(method, "msg_zerocopy") == 0;
  int uring = strcmp(method, "send_zc") == 0;
  if (zc && setsockopt(fd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof one) != 0) die("SO_ZEROCOPY");
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
  if (inet_pton(AF_INET, dest, &to.sin_addr) != 1) die("address");
  uint32_t host = ntohl(to.sin_addr.s_addr);
  int allowed = host == INADDR_LOOPBACK || (host >> 8) == 0xC00002 || (host >> 8) == 0xC63364 || (host >> 8) == 0xCB0071;
  if (!allowed) {
    fprintf(stderr, "sendpath: refusing %s: only 127.0.0.1 and the documentation ranges\n", dest);
    exit(2);
  }
  if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) die("connect");
  /* 64 distinct page-aligned buffers, reused in turn once their completion came. */
  size_t slots = 64;
  char *memory = aligned_alloc(4096, slots * ((write_bytes + 4095) & ~4095LL));
  if (!memory) die("aligned_alloc");
  memset(memory, 'z', slots * ((write_bytes + 4095) & ~4095LL));
  counts_t c = {0};
  ring_t r;
  int owed = 0;
  if (uring) ring_open(&r);
  double u0, s0, u1, s1;
  cpu(&u0, &s0);
  double t0 = now();
  long long sent_calls = 0;
  while (c.bytes < total) {
    char *buf = memory + (sent_calls % slots) * ((write_bytes + 4095) & ~4095LL);
    if (uring) {
      /* A batch of SQEs per io_uring_enter, as a server would. */
      unsigned tail = *r.sq_tail, batch = 0;
      while (batch < 32 && c.bytes + (long long)batch * write_bytes < total && owed + (int)batch < RING_ENTRIES / 2) {
        unsigned index = tail & *r.sq_mask;
        struct io_uring_sqe *sqe = &r.sqes[index];
        memset(sqe, 0, sizeof *sqe);
        sqe->opcode = OP_SEND_ZC;
        sqe->fd = fd;
        sqe->addr = (uint64_t)(uintptr_t)(memory + ((sent_calls + batch) % slots) * ((write_bytes + 4095) & ~4095LL));
        sqe->len = (uint32_t)write_bytes;
        sqe->ioprio = SEND_ZC_REPORT_USAGE;
        sqe->user_data = (uint64_t)(sent_calls + batch);
        r.sq_array[index] = index;
        tail++;
        batch++;
      }
      __atomic_store_n(r.sq_tail, tail, __ATOMIC_RELEASE);
      ring_enter(&r, batch, 1);
      sent_calls += batch;
      ring_reap(&r, &c, &owed);
      continue;
    }
    ssize_t n = send(fd, buf, write_bytes, zc ? MSG_ZEROCOPY : 0);
    if (n < 0) {
      if (errno == ENOBUFS && zc) {
        c.enobufs++;
        if (drain_errqueue(fd, &c) == 0) wait_errqueue(fd);
        continue;
      }
      /* A closed port answered an earlier datagram (ICMP, loopback): go on. */
      if (errno == EINTR || errno == ECONNREFUSED) continue;
      die("send");
    }
    c.bytes += n;
    sent_calls++;
    if (zc) {
      c.sends++;
      if ((sent_calls & 63) == 0) drain_errqueue(fd, &c);
    }
  }
  /* Every completion, so the memory could be reused: part of the cost. */
  while (zc && c.completions < c.sends) {
    if (drain_errqueue(fd, &c) == 0) wait_errqueue(fd);
  }
  while (uring && owed > 0) {
    ring_enter(&r, 0, 1);
    ring_reap(&r, &c, &owed);
  }
  double seconds = now() - t0;
  cpu(&u1, &s1);
  print(method, write_bytes, &c, seconds, u1 - u0, s1 - s0);
}

static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) die("connect 127.0.0.1");
  return fd;
}

static void tcp(int port, long long write_bytes, long long total, const char *method) {
  int fd = connect_loopback(port);
  int use_vmsplice = strcmp(method, "vmsplice") == 0;
  char *buf = aligned_alloc(4096, (write_bytes + 4095) & ~4095LL);
  if (!buf) die("aligned_alloc");
  memset(buf, 'v', write_bytes);
  int pipefd[2];
  if (use_vmsplice) {
    if (pipe2(pipefd, O_CLOEXEC) != 0) die("pipe2");
    fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
  }
  counts_t c = {0};
  double u0, s0, u1, s1;
  cpu(&u0, &s0);
  double t0 = now();
  while (c.bytes < total) {
    long long want = write_bytes < total - c.bytes ? write_bytes : total - c.bytes;
    if (use_vmsplice) {
      for (long long off = 0; off < want;) {
        struct iovec iov = {buf + off, (size_t)(want - off)};
        ssize_t in = vmsplice(pipefd[1], &iov, 1, 0);
        if (in < 0) die("vmsplice");
        for (ssize_t out = 0; out < in;) {
          ssize_t n = splice(pipefd[0], NULL, fd, NULL, in - out, SPLICE_F_MOVE);
          if (n <= 0) die("splice");
          out += n;
        }
        off += in;
      }
      c.bytes += want;
    } else {
      ssize_t n = send(fd, buf, want, 0);
      if (n < 0) die("send");
      c.bytes += n;
    }
    c.sends++;
  }
  double seconds = now() - t0;
  cpu(&u1, &s1);
  shutdown(fd, SHUT_WR);
  char byte;
  while (read(fd, &byte, 1) > 0) {
  }
  print(method, write_bytes, &c, seconds, u1 - u0, s1 - s0);
}

static long long count_changed(const char *data, size_t n, char mark) {
  long long changed = 0;
  for (size_t i = 0; i < n; i++) changed += data[i] == mark;
  return changed;
}

static void hazard(void) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof a;
  if (bind(listener, (struct sockaddr *)&a, sizeof a) != 0 || listen(listener, 1) != 0) die("listen");
  getsockname(listener, (struct sockaddr *)&a, &length);
  int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(client, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
  int server = accept(listener, NULL, NULL);
  size_t size = 64 << 10;
  char *buf = aligned_alloc(4096, size), *got = malloc(size);
  int p[2];
  if (!buf || !got || pipe(p) != 0) die("setup");
  long long changed[2];
  for (int round = 0; round < 2; round++) {
    memset(buf, 'A', size);
    if (round == 0) {
      struct iovec iov = {buf, size};
      if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)size || splice(p[0], NULL, client, NULL, size, 0) != (ssize_t)size) die("vmsplice/splice");
    } else if (send(client, buf, size, 0) != (ssize_t)size) {
      die("send");
    }
    memset(buf, 'B', size); /* both calls returned: the caller reuses its memory */
    size_t have = 0;
    while (have < size) {
      ssize_t n = read(server, got + have, size - have);
      if (n <= 0) die("read");
      have += n;
    }
    changed[round] = count_changed(got, size, 'B');
  }
  printf("{\"vmsplice_changed\":%lld,\"send_changed\":%lld,\"bytes\":%zu}\n", changed[0], changed[1], size);
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "tap") == 0) return make_tap(argv[2], argc > 3 && strcmp(argv[3], "offload") == 0);
  if (argc >= 2 && strcmp(argv[1], "hazard") == 0) {
    hazard();
    return 0;
  }
  const char *dest = "127.0.0.1", *method = "send";
  long long write_bytes = 65536, total = 1 << 30;
  int port = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "-d") == 0) dest = argv[i + 1];
    else if (strcmp(argv[i], "-s") == 0) write_bytes = atoll(argv[i + 1]);
    else if (strcmp(argv[i], "-n") == 0) total = atoll(argv[i + 1]);
    else if (strcmp(argv[i], "-m") == 0) method = argv[i + 1];
    else if (strcmp(argv[i], "-p") == 0) port = atoi(argv[i + 1]);
  }
  if (argc >= 2 && strcmp(argv[1], "udp") == 0) udp(dest, write_bytes, total, method);
  else if (argc >= 2 && strcmp(argv[1], "tcp") == 0 && port > 0) tcp(port, write_bytes, total, method);
  else {
    fprintf(stderr, "usage: sendpath tap NAME [offload] | udp -d DEST -s BYTES -n TOTAL -m METHOD | tcp -p PORT -s BYTES -n TOTAL -m send|vmsplice | hazard\n");
    return 2;
  }
  return 0;
}
