/*
 * sendfile-floor: the least work an HTTP server can do to send a file with
 * sendfile(2), as a reference row in the static-file benchmark.
 *
 * Why it exists: on loopback most of a sendfile server's CPU is kernel time
 * that does not depend on the server (TCP segmentation, the loopback receive
 * path run in the sender's context, page references). This program has no
 * event loop, no HTTP parsing beyond the request line, no headers but
 * Content-Length, and blocks in sendfile until the whole file is sent, so its
 * CPU per GB is close to what any sendfile server pays against the same
 * client (an event loop that sends in larger batches, like nginx's, can come
 * in slightly below it). It is not a server to use: no jail beyond refusing "..", one fork per connection.
 *
 *   sendfile-floor ROOT PORT      (listens on 127.0.0.1 only)
 *
 * Build: cc -O2 -Wall -Wextra -o sendfile-floor sendfile-floor.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define REQUEST_BYTES 8192

static int send_all(int fd, const char *data, size_t len, int flags) {
  while (len > 0) {
    ssize_t n = send(fd, data, len, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_status(int fd, const char *status) {
  char head[128];
  int len = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n", status);
  return send_all(fd, head, (size_t)len, 0);
}

/* Sends the header, then the whole file with sendfile; -1 ends the connection. */
static int send_file(int sock, int root, const char *path) {
  while (*path == '/') path++;
  if (strstr(path, "..") != NULL) return send_status(sock, "403 Forbidden");
  int file = openat(root, *path ? path : ".", O_RDONLY | O_CLOEXEC);
  if (file < 0) return send_status(sock, "404 Not Found");
  struct stat st;
  if (fstat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
    close(file);
    return send_status(sock, "404 Not Found");
  }
  char head[128];
  int len = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n\r\n", (long long)st.st_size);
  int result = send_all(sock, head, (size_t)len, MSG_MORE);
  off_t offset = 0;
  while (result == 0 && offset < st.st_size) {
    ssize_t n = sendfile(sock, file, &offset, (size_t)(st.st_size - offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) result = -1; /* error, or the file shrank: never pad */
  }
  close(file);
  return result;
}

/* Keep-alive loop for one connection; requests must not carry a body. */
static void serve_connection(int sock, int root) {
  char request[REQUEST_BYTES + 1];
  size_t have = 0;
  for (;;) {
    char *end = NULL;
    while ((end = memmem(request, have, "\r\n\r\n", 4)) == NULL) {
      if (have == REQUEST_BYTES) return;
      ssize_t n = recv(sock, request + have, REQUEST_BYTES - have, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      have += (size_t)n;
    }
    request[have] = '\0';
    char path[4096];
    if (sscanf(request, "GET %4095s HTTP/1.1", path) != 1) {
      send_status(sock, "400 Bad Request");
      return;
    }
    if (send_file(sock, root, path) < 0) return;
    size_t used = (size_t)(end + 4 - request);
    memmove(request, request + used, have - used);
    have -= used;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s ROOT PORT\n", argv[0]);
    return 2;
  }
  int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    perror(argv[1]);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(listener, 512) < 0) {
    perror("listen");
    return 1;
  }
  for (;;) {
    int sock = accept(listener, NULL, NULL);
    /* Reap finished connections so their CPU time moves into ours (cutime). */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    if (sock < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      perror("accept");
      return 1;
    }
    pid_t child = fork();
    if (child == 0) {
      close(listener);
      serve_connection(sock, root);
      _exit(0);
    }
    if (child < 0) perror("fork");
    close(sock);
  }
}
