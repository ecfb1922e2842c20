/*
 * bigread: an HTTP/1.1 load client for big static files.
 *
 * Why it exists: wrk reads responses 8 KiB at a time and tops out near
 * 1.5 GB/s on the benchmark machine, so with big files it measures itself,
 * not the server. bigread receives into a large buffer (1 MiB by default),
 * so one recv() drains a full socket buffer and the client stays cheap.
 *
 * Each of -c connections runs in its own thread with a blocking keep-alive
 * socket and issues GET requests back to back (no pipelining) until -d
 * seconds have passed or -n requests have been started in total. Every
 * response must be 200 with a Content-Length, and exactly that many body
 * bytes must arrive; anything else counts as an error and the connection is
 * reopened. Result, on stdout:
 *
 *   {"requests":12,"bytes":805306368,"seconds":2.013,"errors":0,...}
 *
 * "bytes" counts body bytes of completed 200 responses; "seconds" runs from
 * the first connect to the end of the last response.
 *
 * Only loopback addresses are accepted: this is a benchmark client, never a
 * tool to point at someone else's server.
 *
 * Build: cc -O2 -Wall -Wextra -pthread -o bigread bigread.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES 16384
#define MAX_CONNECTIONS 256
/* Stop a connection that keeps failing instead of spinning until the deadline. */
#define MAX_ERRORS_PER_CONNECTION 20

struct config {
  struct sockaddr_in addr;
  char request[1024];
  size_t request_len;
  size_t recv_buffer_bytes; /* most bytes asked of one body recv() (-b) */
  size_t buffer_bytes;      /* allocation: also holds a whole header block */
  double deadline;        /* CLOCK_MONOTONIC seconds */
  long max_requests;
  int timeout_seconds;
};

struct worker {
  pthread_t thread;
  const struct config *config;
  long requests;
  long long bytes;
  long errors;
  char first_error[160];
};

static atomic_long requests_started;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_error(struct worker *w, const char *what) {
  w->errors++;
  if (w->first_error[0] == '\0')
    snprintf(w->first_error, sizeof w->first_error, "%s%s%s", what, errno ? ": " : "",
             errno ? strerror(errno) : "");
}

static int open_connection(const struct config *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* A stalled server must not hang the benchmark: bound every recv/send. */
  struct timeval tv = {.tv_sec = c->timeout_seconds, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, (const struct sockaddr *)&c->addr, sizeof c->addr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Value of header `name` (lower case, with the colon) in the header block, or NULL. */
static const char *find_header(const char *headers, const char *name) {
  size_t name_len = strlen(name);
  for (const char *line = strstr(headers, "\r\n"); line; line = strstr(line, "\r\n")) {
    line += 2;
    if (strncasecmp(line, name, name_len) == 0) {
      const char *value = line + name_len;
      while (*value == ' ' || *value == '\t') value++;
      return value;
    }
  }
  return NULL;
}

/*
 * One request/response exchange on fd. Returns the body length on success,
 * -1 on failure. *keep_alive is cleared when the server asked to close.
 */
static long long exchange(struct worker *w, int fd, char *buf, int *keep_alive) {
  const struct config *c = w->config;
  errno = 0;
  if (send_all(fd, c->request, c->request_len) < 0) {
    note_error(w, "send");
    return -1;
  }

  /* Read until the end of the header block. The response to a GET without
   * pipelining is the only thing that can arrive, so body bytes that come
   * along are part of this response. */
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    if (have >= MAX_HEADER_BYTES) {
      errno = 0;
      note_error(w, "header block too large");
      return -1;
    }
    ssize_t n = recv(fd, buf + have, c->buffer_bytes - have - 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = 0;
      note_error(w, n == 0 ? "connection closed before headers" : "recv headers");
      return -1;
    }
    have += (size_t)n;
    buf[have] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  size_t header_len = (size_t)(end - buf) + 4;
  end[2] = '\0'; /* terminate the header block, keep the last CRLF for find_header */

  errno = 0;
  int status = 0;
  if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
    note_error(w, "bad status line");
    return -1;
  }
  const char *te = find_header(buf, "transfer-encoding:");
  const char *cl = find_header(buf, "content-length:");
  if (te || !cl) {
    note_error(w, "response without Content-Length");
    return -1;
  }
  long long content_length = strtoll(cl, NULL, 10);
  const char *connection = find_header(buf, "connection:");
  if (connection && strncasecmp(connection, "close", 5) == 0) *keep_alive = 0;

  long long body_have = (long long)(have - header_len);
  if (body_have > content_length) {
    note_error(w, "more bytes than Content-Length");
    return -1;
  }
  long long remaining = content_length - body_have;
  while (remaining > 0) {
    size_t want = remaining < (long long)c->recv_buffer_bytes ? (size_t)remaining : c->recv_buffer_bytes;
    ssize_t n = recv(fd, buf, want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = 0;
      note_error(w, n == 0 ? "body shorter than Content-Length" : "recv body");
      return -1;
    }
    remaining -= n;
  }
  if (status != 200) {
    errno = 0;
    note_error(w, "status other than 200");
    return -1;
  }
  return content_length;
}

static void *run_worker(void *arg) {
  struct worker *w = arg;
  const struct config *c = w->config;
  char *buf = malloc(c->buffer_bytes);
  if (!buf) {
    note_error(w, "malloc");
    return NULL;
  }
  int fd = -1;
  while (now_seconds() < c->deadline && w->errors < MAX_ERRORS_PER_CONNECTION) {
    if (atomic_fetch_add(&requests_started, 1) >= c->max_requests) break;
    if (fd < 0 && (fd = open_connection(c)) < 0) {
      note_error(w, "connect");
      usleep(10000);
      continue;
    }
    int keep_alive = 1;
    long long body = exchange(w, fd, buf, &keep_alive);
    if (body >= 0) {
      w->requests++;
      w->bytes += body;
    }
    if (body < 0 || !keep_alive) {
      close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) close(fd);
  free(buf);
  return NULL;
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s -p PORT -u PATH [-a 127.0.0.1] [-c CONNECTIONS] [-d SECONDS] [-n MAX_REQUESTS]\n"
          "          [-b RECV_BUFFER_BYTES] [-t TIMEOUT_SECONDS]\n",
          argv0);
  exit(2);
}

int main(int argc, char **argv) {
  const char *address = "127.0.0.1";
  const char *path = NULL;
  int port = 0, connections = 1;
  double duration = 5;
  struct config c = {.recv_buffer_bytes = 1 << 20, .max_requests = 1000000, .timeout_seconds = 30};
  int opt;
  while ((opt = getopt(argc, argv, "a:p:u:c:d:n:b:t:")) != -1) {
    switch (opt) {
      case 'a': address = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'u': path = optarg; break;
      case 'c': connections = atoi(optarg); break;
      case 'd': duration = atof(optarg); break;
      case 'n': c.max_requests = atol(optarg); break;
      case 'b': c.recv_buffer_bytes = (size_t)atol(optarg); break;
      case 't': c.timeout_seconds = atoi(optarg); break;
      default: usage(argv[0]);
    }
  }
  if (!path || path[0] != '/' || port <= 0 || port > 65535 || connections < 1 ||
      connections > MAX_CONNECTIONS || duration <= 0 || c.max_requests < 1 ||
      c.recv_buffer_bytes < 1024 || c.timeout_seconds < 1)
    usage(argv[0]);
  c.buffer_bytes = c.recv_buffer_bytes > MAX_HEADER_BYTES + 1 ? c.recv_buffer_bytes : MAX_HEADER_BYTES + 1;
  c.addr.sin_family = AF_INET;
  c.addr.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, address, &c.addr.sin_addr) != 1 ||
      (ntohl(c.addr.sin_addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "bigread: only loopback IPv4 addresses (127.0.0.0/8) are allowed\n");
    return 2;
  }
  int len = snprintf(c.request, sizeof c.request,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: zerocopy-bench-bigread\r\n\r\n",
                     path, address, port);
  if (len < 0 || (size_t)len >= sizeof c.request) usage(argv[0]);
  c.request_len = (size_t)len;

  struct worker workers[MAX_CONNECTIONS];
  memset(workers, 0, sizeof workers);
  double start = now_seconds();
  c.deadline = start + duration;
  for (int i = 0; i < connections; i++) {
    workers[i].config = &c;
    if (pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]) != 0) {
      perror("pthread_create");
      return 1;
    }
  }
  long requests = 0, errors = 0;
  long long bytes = 0;
  const char *first_error = "";
  for (int i = 0; i < connections; i++) {
    pthread_join(workers[i].thread, NULL);
    requests += workers[i].requests;
    bytes += workers[i].bytes;
    errors += workers[i].errors;
    if (!first_error[0] && workers[i].first_error[0]) first_error = workers[i].first_error;
  }
  double seconds = now_seconds() - start;

  /* first_error comes from fixed strings and strerror(): no JSON escaping needed. */
  printf("{\"requests\":%ld,\"bytes\":%lld,\"seconds\":%.6f,\"errors\":%ld,\"connections\":%d,"
         "\"recv_buffer_bytes\":%zu,\"first_error\":\"%s\"}\n",
         requests, bytes, seconds, errors, connections, c.recv_buffer_bytes, first_error);
  return 0;
}
