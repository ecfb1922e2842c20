/*
 * slowread: many slow HTTP clients at once, the load that tests whether a
 * server's cost stays flat when clients read far slower than it can send.
 *
 *   slowread -p PORT -u PATH -c CONNECTIONS -r BYTES_PER_SECOND -d SECONDS
 *
 * Opens CONNECTIONS keep-alive connections to 127.0.0.1:PORT, sends one
 * `GET PATH` on each, and reads each response at most BYTES_PER_SECOND
 * (a token bucket refilled every 10 ms) for SECONDS, then closes them all
 * and prints
 *   {"connections":N,"bytes":B,"seconds":S,"errors":E,"responses_started":R}
 * "responses_started" counts connections whose response head arrived; a
 * response that ends (a file smaller than SECONDS x rate) is requested again.
 * Only loopback is used. Build: cc -O2 -Wall -Wextra -o slowread slowread.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICK_NS 10000000ull

struct conn {
  int fd;
  long long budget;
  long long body_left; /* -1 until the head is parsed */
  char head[4096];
  size_t head_len;
};

static unsigned long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

static int arg(int argc, char** argv, const char* flag, const char** out) {
  for (int i = 1; i + 1 < argc; i++)
    if (strcmp(argv[i], flag) == 0) {
      *out = argv[i + 1];
      return 1;
    }
  return 0;
}

static const char* request_path;
static char request[1024];
static size_t request_len;

static int send_request(struct conn* c) {
  c->body_left = -1;
  c->head_len = 0;
  return send(c->fd, request, request_len, MSG_NOSIGNAL) == (ssize_t)request_len ? 0 : -1;
}

/* Consumes up to the connection's budget; returns bytes of body read, -1 on error. */
static long long pump(struct conn* c, unsigned char* buffer, size_t buffer_size) {
  long long body = 0;
  while (c->budget > 0) {
    size_t want = c->body_left < 0 ? sizeof c->head - c->head_len : (size_t)(c->budget < (long long)buffer_size ? c->budget : (long long)buffer_size);
    if (c->body_left >= 0 && (long long)want > c->body_left) want = (size_t)c->body_left;
    ssize_t n = recv(c->fd, c->body_left < 0 ? (unsigned char*)c->head + c->head_len : buffer, want, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return body;
    if (n <= 0) return -1;
    if (c->body_left < 0) {
      c->head_len += (size_t)n;
      char* end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
      if (!end) {
        if (c->head_len == sizeof c->head) return -1;
        continue;
      }
      char* length = strcasestr(c->head, "\r\nContent-Length:");
      if (!length || strncmp(c->head, "HTTP/1.1 200", 12) != 0) return -1;
      c->body_left = atoll(length + 17);
      size_t extra = c->head_len - (size_t)(end + 4 - c->head);
      c->body_left -= (long long)extra;
      body += (long long)extra;
      c->budget -= (long long)extra;
    } else {
      c->body_left -= n;
      body += n;
      c->budget -= n;
    }
    if (c->body_left == 0 && send_request(c) < 0) return -1;
  }
  return body;
}

int main(int argc, char** argv) {
  const char *port_s, *conns_s, *rate_s, *dur_s;
  if (!arg(argc, argv, "-p", &port_s) || !arg(argc, argv, "-u", &request_path) || !arg(argc, argv, "-c", &conns_s) ||
      !arg(argc, argv, "-r", &rate_s) || !arg(argc, argv, "-d", &dur_s)) {
    fprintf(stderr, "usage: slowread -p PORT -u PATH -c CONNECTIONS -r BYTES_PER_SECOND -d SECONDS\n");
    return 2;
  }
  int connections = atoi(conns_s);
  long long rate = atoll(rate_s);
  double seconds = atof(dur_s);
  struct rlimit limit = {(rlim_t)connections + 64, (rlim_t)connections + 64};
  setrlimit(RLIMIT_NOFILE, &limit);
  request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", request_path);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port_s))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct conn* conns = calloc((size_t)connections, sizeof *conns);
  long long errors = 0, bytes = 0, started = 0;
  for (int i = 0; i < connections; i++) {
    conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (conns[i].fd < 0 || connect(conns[i].fd, (struct sockaddr*)&addr, sizeof addr) < 0 || send_request(&conns[i]) < 0) {
      errors++;
      if (conns[i].fd >= 0) close(conns[i].fd);
      conns[i].fd = -1;
    }
  }
  static unsigned char buffer[1 << 16];
  unsigned long long start = now_ns();
  unsigned long long stop = start + (unsigned long long)(seconds * 1e9);
  long long per_tick = rate / (long long)(1000000000ull / TICK_NS);
  for (unsigned long long tick = start; tick < stop; tick += TICK_NS) {
    for (int i = 0; i < connections; i++) {
      struct conn* c = &conns[i];
      if (c->fd < 0) continue;
      int had_head = c->body_left >= 0;
      c->budget = per_tick; /* no saving up: a steady trickle */
      long long n = pump(c, buffer, sizeof buffer);
      if (n < 0) {
        errors++;
        close(c->fd);
        c->fd = -1;
        continue;
      }
      if (!had_head && c->body_left >= 0) started++;
      bytes += n;
    }
    unsigned long long now = now_ns();
    if (tick + TICK_NS > now) {
      struct timespec pause = {0, (long)(tick + TICK_NS - now)};
      nanosleep(&pause, NULL);
    }
  }
  double elapsed = (double)(now_ns() - start) / 1e9;
  for (int i = 0; i < connections; i++)
    if (conns[i].fd >= 0) close(conns[i].fd);
  printf("{\"connections\":%d,\"bytes\":%lld,\"seconds\":%.3f,\"errors\":%lld,\"responses_started\":%lld}\n", connections, bytes,
         elapsed, errors, started);
  return errors ? 1 : 0;
}
