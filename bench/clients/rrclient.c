/*
 * rrclient: request/response load through a proxy (or directly), the shape of
 * database, cache and RPC traffic: many small messages on long-lived
 * connections. Pairs with rrclient's own `echo` server mode, which answers
 * every byte it reads with the same byte.
 *
 *   rrclient echo [-p PORT]
 *     Listens on 127.0.0.1:PORT (0 = any free port), prints
 *       {"event":"listening","port":40123}
 *     and echoes every connection until killed (one thread, epoll,
 *     level-triggered; a peer that stops reading is simply not read).
 *
 *   rrclient load -p PORT -c CONNECTIONS -s MESSAGE_BYTES -d DEPTH -t SECONDS [-w WARMUP_SECONDS]
 *     Opens CONNECTIONS to 127.0.0.1:PORT. Each keeps DEPTH requests of
 *     MESSAGE_BYTES in flight (pipelining: DEPTH 1 is strict ping-pong) and
 *     sends the next request as soon as one full response (MESSAGE_BYTES
 *     back) arrived. After the warm-up it prints {"event":"measuring"} (so a
 *     harness can sample the proxy's CPU time over exactly the counted
 *     window), counts for SECONDS and prints
 *       {"event":"done","requests":N,"seconds":S,"p50_us":…,"p99_us":…,"max_us":…,"errors":E}
 *     Latency is from the request's send to its response's last byte, per
 *     request, in a histogram with 1 µs buckets up to 100 ms (slower ones
 *     count in the last bucket). Every response byte is checked against the
 *     request pattern: a proxy that drops, repeats or reorders bytes fails.
 *
 * Only loopback is used. Build: cc -O2 -Wall -Wextra -o rrclient rrclient.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HISTOGRAM_US 100000
#define MAX_EVENTS 256
#define ECHO_BUFFER_BYTES (256 << 10)

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) die("fcntl");
}

static int arg_int(int argc, char** argv, const char* flag, int fallback) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], flag) == 0) return atoi(argv[i + 1]);
  return fallback;
}

/* --- echo server ----------------------------------------------------------- */

struct echo_conn {
  int fd;
  char* buffer;
  size_t start, end; /* bytes read and not yet written back */
};

static void echo_close(int epfd, struct echo_conn* c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->buffer);
  free(c);
}

/* Reads what is there and writes it back; waits for writability only when
 * the peer's window is full (then stops reading until it drains). */
static void echo_serve(int epfd, struct echo_conn* c) {
  for (;;) {
    if (c->end > c->start) {
      ssize_t w = send(c->fd, c->buffer + c->start, c->end - c->start, MSG_NOSIGNAL);
      if (w < 0 && errno == EAGAIN) {
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      if (w <= 0) return echo_close(epfd, c);
      c->start += (size_t)w;
      if (c->start < c->end) continue;
      c->start = c->end = 0;
    }
    ssize_t r = recv(c->fd, c->buffer, ECHO_BUFFER_BYTES, 0);
    if (r < 0 && errno == EAGAIN) {
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
      epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
      return;
    }
    if (r <= 0) return echo_close(epfd, c);
    c->end = (size_t)r;
  }
}

__attribute__((noreturn)) static int run_echo(int argc, char** argv) {
  int port = arg_int(argc, argv, "-p", 0);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, (struct sockaddr*)&addr, sizeof addr) < 0) die("bind");
  if (listen(listener, 4096) < 0) die("listen");
  socklen_t len = sizeof addr;
  getsockname(listener, (struct sockaddr*)&addr, &len);
  printf("{\"event\":\"listening\",\"port\":%d}\n", ntohs(addr.sin_port));
  fflush(stdout);
  int epfd = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
    for (int i = 0; i < n; i++) {
      if (events[i].data.ptr == NULL) {
        int fd;
        while ((fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct echo_conn* c = calloc(1, sizeof *c);
          c->fd = fd;
          c->buffer = malloc(ECHO_BUFFER_BYTES);
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      echo_serve(epfd, events[i].data.ptr);
    }
  }
}

/* --- load client ----------------------------------------------------------- */

struct load_conn {
  int fd;
  size_t to_send;         /* bytes of requests not yet written */
  size_t send_offset;     /* position in the pattern of the next byte sent */
  size_t received;        /* bytes of the current response so far */
  size_t recv_offset;     /* position in the pattern of the next byte expected */
  unsigned long long sent_at[64]; /* ring of in-flight request send times */
  unsigned head, tail;
};

static unsigned char* pattern;
static size_t pattern_bytes;
static size_t message_bytes;
static unsigned long long histogram[HISTOGRAM_US + 1];
static unsigned long long requests, errors;
static int counting;

static void queue_request(struct load_conn* c, unsigned long long at) {
  c->sent_at[c->tail++ % 64] = at;
  c->to_send += message_bytes;
}

static int pump_send(struct load_conn* c) {
  while (c->to_send > 0) {
    size_t at = c->send_offset % pattern_bytes;
    size_t n = pattern_bytes - at < c->to_send ? pattern_bytes - at : c->to_send;
    ssize_t w = send(c->fd, pattern + at, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EAGAIN) return 0;
    if (w <= 0) return -1;
    c->to_send -= (size_t)w;
    c->send_offset += (size_t)w;
  }
  return 0;
}

static int pump_recv(struct load_conn* c) {
  static unsigned char buffer[256 << 10];
  for (;;) {
    ssize_t r = recv(c->fd, buffer, sizeof buffer, 0);
    if (r < 0 && errno == EAGAIN) return 0;
    if (r <= 0) return -1;
    for (ssize_t i = 0; i < r;) {
      size_t at = c->recv_offset % pattern_bytes;
      size_t n = pattern_bytes - at < (size_t)(r - i) ? pattern_bytes - at : (size_t)(r - i);
      size_t left = message_bytes - c->received;
      if (n > left) n = left;
      if (memcmp(buffer + i, pattern + at, n) != 0) {
        errors++;
        return -1;
      }
      i += (ssize_t)n;
      c->received += n;
      c->recv_offset += n;
      if (c->received == message_bytes) {
        unsigned long long now = now_ns();
        unsigned long long us = (now - c->sent_at[c->head++ % 64]) / 1000;
        if (counting) {
          histogram[us > HISTOGRAM_US ? HISTOGRAM_US : us]++;
          requests++;
        }
        c->received = 0;
        queue_request(c, now);
      }
    }
  }
}

static double percentile(double p) {
  unsigned long long total = 0, seen = 0;
  for (int i = 0; i <= HISTOGRAM_US; i++) total += histogram[i];
  if (total == 0) return 0;
  unsigned long long want = (unsigned long long)(p * (double)total);
  for (int i = 0; i <= HISTOGRAM_US; i++) {
    seen += histogram[i];
    if (seen > want) return i;
  }
  return HISTOGRAM_US;
}

static int run_load(int argc, char** argv) {
  int port = arg_int(argc, argv, "-p", 0);
  int connections = arg_int(argc, argv, "-c", 1);
  message_bytes = (size_t)arg_int(argc, argv, "-s", 16);
  int depth = arg_int(argc, argv, "-d", 1);
  int seconds = arg_int(argc, argv, "-t", 5);
  int warmup = arg_int(argc, argv, "-w", 1);
  if (port <= 0 || connections <= 0 || message_bytes == 0 || depth <= 0 || depth > 64) {
    fprintf(stderr, "usage: rrclient load -p PORT -c CONNECTIONS -s BYTES -d DEPTH(1-64) -t SECONDS [-w WARMUP]\n");
    return 2;
  }
  /* An odd length, so a message boundary never lines up with the pattern's. */
  pattern_bytes = (1 << 20) + 7;
  pattern = malloc(pattern_bytes);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < pattern_bytes; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pattern[i] = (unsigned char)x;
  }
  int epfd = epoll_create1(0);
  struct load_conn* conns = calloc((size_t)connections, sizeof *conns);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  for (int i = 0; i < connections; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr*)&addr, sizeof addr) < 0) die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_nonblocking(fd);
    conns[i].fd = fd;
    unsigned long long now = now_ns();
    for (int d = 0; d < depth; d++) queue_request(&conns[i], now);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = &conns[i]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  }
  struct epoll_event events[MAX_EVENTS];
  unsigned long long start = now_ns();
  unsigned long long measure_from = start + (unsigned long long)warmup * 1000000000ull;
  unsigned long long stop = measure_from + (unsigned long long)seconds * 1000000000ull;
  int failed = 0;
  for (;;) {
    unsigned long long now = now_ns();
    if (!counting && now >= measure_from) {
      counting = 1;
      measure_from = now;
      stop = now + (unsigned long long)seconds * 1000000000ull;
      printf("{\"event\":\"measuring\"}\n");
      fflush(stdout);
    }
    if (now >= stop) break;
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    for (int i = 0; i < n; i++) {
      struct load_conn* c = events[i].data.ptr;
      if (pump_recv(c) < 0 || pump_send(c) < 0) {
        failed++;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
      }
    }
    if (failed == connections) break;
  }
  double elapsed = (double)(now_ns() - measure_from) / 1e9;
  printf("{\"event\":\"done\",\"requests\":%llu,\"seconds\":%.3f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"errors\":%llu,\"failed_connections\":%d}\n",
         requests, elapsed, percentile(0.5), percentile(0.99), percentile(0.99999), errors, failed);
  return errors || failed ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "echo") == 0) return run_echo(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "load") == 0) return run_load(argc, argv);
  fprintf(stderr, "usage: rrclient echo [-p PORT] | rrclient load -p PORT -c N -s BYTES -d DEPTH -t SECONDS\n");
  return 2;
}
