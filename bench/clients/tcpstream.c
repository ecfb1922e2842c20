/*
 * tcpstream: the two ends of a one-way bulk TCP stream, for timing a proxy
 * (or a direct connection, the "no proxy" baseline) between them.
 *
 *   tcpstream sink -n CONNECTIONS [-p PORT] [-v VERIFY_FIRST] [-t TIMEOUT_SECONDS]
 *     Listens on 127.0.0.1:PORT (0 = any free port) and prints
 *       {"event":"listening","port":40123}
 *     then, for each connection that delivers at least one byte, reads to EOF,
 *     closes, and prints
 *       {"event":"received","bytes":4294967296,"accept_ns":"…","first_byte_ns":"…","eof_ns":"…","verified":true}
 *     Exits after CONNECTIONS such connections. Empty connections (port
 *     probes) are ignored. With -v 1 the first connection's bytes are
 *     compared with the expected pattern ("verified" is null when unchecked:
 *     the comparison costs CPU on a 2-core machine, so timed runs skip it).
 *
 *   tcpstream source -p PORT -s BYTES [-t TIMEOUT_SECONDS]
 *     Connects to 127.0.0.1:PORT, sends BYTES of the pattern, shuts down its
 *     write side, waits for the peer to close, and prints
 *       {"event":"sent","bytes":4294967296,"start_ns":"…","eof_ns":"…","bytes_returned":0}
 *
 * Timestamps are CLOCK_MONOTONIC nanoseconds, printed as strings because they
 * exceed 2^53 after ~104 days of uptime. CLOCK_MONOTONIC is system-wide, so
 * the harness computes throughput across the two processes as
 * sink bytes / (sink eof_ns - source start_ns): from the source's connect()
 * to the last byte reaching the sink, whatever sits in between.
 *
 * Only loopback is used: the sink binds 127.0.0.1 and the source connects there.
 *
 * Build: cc -O2 -Wall -Wextra -o tcpstream tcpstream.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BLOCK_BYTES (1 << 20) /* one 1 MiB block of pattern, repeated */

static unsigned char *block;

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* Pseudo-random pattern (xorshift64) so a proxy bug that drops, repeats or
 * reorders bytes shows up in verification; both ends derive the same block. */
static void make_block(void) {
  block = malloc(BLOCK_BYTES);
  if (!block) {
    perror("malloc");
    exit(1);
  }
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < BLOCK_BYTES; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    memcpy(block + i, &x, 8);
  }
}

static void set_timeouts(int fd, int seconds) {
  struct timeval tv = {.tv_sec = seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

/* Compares len received bytes at stream offset `offset` with the pattern. */
static int matches_pattern(const unsigned char *data, size_t len, unsigned long long offset) {
  while (len > 0) {
    size_t at = (size_t)(offset % BLOCK_BYTES);
    size_t n = BLOCK_BYTES - at < len ? BLOCK_BYTES - at : len;
    if (memcmp(data, block + at, n) != 0) return 0;
    data += n;
    len -= n;
    offset += n;
  }
  return 1;
}

static int run_sink(int port, int connections, int verify_first, int timeout_seconds) {
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = loopback(port);
  socklen_t addr_len = sizeof addr;
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 64) < 0 ||
      getsockname(listener, (struct sockaddr *)&addr, &addr_len) < 0) {
    perror("sink: listen");
    return 1;
  }
  printf("{\"event\":\"listening\",\"port\":%d}\n", ntohs(addr.sin_port));
  fflush(stdout);

  unsigned char *buf = malloc(BLOCK_BYTES);
  int done = 0;
  while (done < connections) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      perror("sink: accept");
      return 1;
    }
    unsigned long long accept_ns = now_ns(), first_byte_ns = 0;
    set_timeouts(fd, timeout_seconds);
    int verify = verify_first && done == 0;
    int verified = 1;
    unsigned long long bytes = 0;
    for (;;) {
      ssize_t n = recv(fd, buf, BLOCK_BYTES, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        perror("sink: recv");
        break;
      }
      if (n == 0) break;
      if (bytes == 0) first_byte_ns = now_ns();
      if (verify && verified && !matches_pattern(buf, (size_t)n, bytes)) verified = 0;
      bytes += (unsigned long long)n;
    }
    unsigned long long eof_ns = now_ns();
    close(fd); /* the source waits for this close to know we have everything */
    if (bytes == 0) continue;
    done++;
    printf("{\"event\":\"received\",\"bytes\":%llu,\"accept_ns\":\"%llu\",\"first_byte_ns\":\"%llu\","
           "\"eof_ns\":\"%llu\",\"verified\":%s}\n",
           bytes, accept_ns, first_byte_ns, eof_ns, verify ? (verified ? "true" : "false") : "null");
    fflush(stdout);
  }
  return 0;
}

static int run_source(int port, unsigned long long total, int timeout_seconds) {
  unsigned long long start_ns = now_ns();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = loopback(port);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    perror("source: connect");
    return 1;
  }
  set_timeouts(fd, timeout_seconds);
  unsigned long long sent = 0;
  while (sent < total) {
    size_t at = (size_t)(sent % BLOCK_BYTES);
    size_t len = BLOCK_BYTES - at;
    if (len > total - sent) len = (size_t)(total - sent);
    ssize_t n = send(fd, block + at, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      perror("source: send");
      return 1;
    }
    sent += (unsigned long long)n;
  }
  shutdown(fd, SHUT_WR);
  /* The sink closes after reading EOF; through a proxy that close comes back
   * once the proxy has forwarded everything and propagated the half-close. */
  unsigned long long returned = 0;
  static unsigned char discard[65536];
  for (;;) {
    ssize_t n = recv(fd, discard, sizeof discard, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      perror("source: waiting for close");
      return 1;
    }
    if (n == 0) break;
    returned += (unsigned long long)n;
  }
  unsigned long long eof_ns = now_ns();
  close(fd);
  printf("{\"event\":\"sent\",\"bytes\":%llu,\"start_ns\":\"%llu\",\"eof_ns\":\"%llu\",\"bytes_returned\":%llu}\n",
         sent, start_ns, eof_ns, returned);
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: tcpstream sink -n CONNECTIONS [-p PORT] [-v 0|1] [-t TIMEOUT_SECONDS]\n"
          "       tcpstream source -p PORT -s BYTES [-t TIMEOUT_SECONDS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  int port = 0, connections = 1, verify_first = 0, timeout_seconds = 60;
  unsigned long long bytes = 0;
  int opt;
  optind = 2;
  while ((opt = getopt(argc, argv, "p:n:v:s:t:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 'n': connections = atoi(optarg); break;
      case 'v': verify_first = atoi(optarg); break;
      case 's': bytes = strtoull(optarg, NULL, 10); break;
      case 't': timeout_seconds = atoi(optarg); break;
      default: usage();
    }
  }
  if (port < 0 || port > 65535 || timeout_seconds < 1) usage();
  make_block();
  if (strcmp(mode, "sink") == 0 && connections >= 1) return run_sink(port, connections, verify_first, timeout_seconds);
  if (strcmp(mode, "source") == 0 && port > 0 && bytes > 0) return run_source(port, bytes, timeout_seconds);
  usage();
}
