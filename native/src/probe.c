/*
 * Capability probes for `zerocopy doctor`: each makes the descriptors it
 * needs, tries the one call in question, closes everything and returns 0 or
 * -errno. They decide nothing: what an errno means for the user is said in
 * TypeScript (src/capabilities/).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform.h"

#ifndef TCP_ULP
#define TCP_ULP 31 /* Linux 4.13 */
#endif
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

int zc__probe_so_zerocopy(int type) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int r = zc__enable_zerocopy(fd);
  close(fd);
  return r;
}

/* TCP_ULP "tls" on a socket that is not connected: the kernel looks the ULP
 * up first (ENOENT: no kTLS, CONFIG_TLS unset or the module missing), then
 * refuses an unconnected socket (ENOTCONN: kTLS is there). */
int zc__probe_ktls(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int r = setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", 3) == 0 ? 0 : -errno;
  close(fd);
  return r == -ENOTCONN ? 0 : r;
}

int zc__probe_vmsplice(void) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
  static char page[4096];
  ssize_t r = zc__vmsplice(fds[1], page, sizeof page);
  close(fds[0]);
  close(fds[1]);
  return r < 0 ? (int)r : 0;
}

/* cachestat(2) of the first page of `fd`: ENOSYS before 6.5; EPERM where the
 * kernel answers only callers that own or may write the file. */
int zc__probe_cachestat(int fd) {
  uint64_t range[2] = {0, 4096};
  uint64_t stat[5];
  return syscall(SYS_cachestat, fd, range, stat, 0) == 0 ? 0 : -errno;
}

/* The capacity a new pipe gets when asked for size_hint (F_SETPIPE_SZ may be
 * refused: fs.pipe-max-size, fs.pipe-user-pages-soft). */
int zc__probe_pipe_capacity(int size_hint) {
  int fds[2];
  int capacity = 0;
  int r = zc__pipe(fds, size_hint, &capacity);
  if (r < 0) return r;
  close(fds[0]);
  close(fds[1]);
  return capacity;
}

static int ethtool_get(int fd, const char* ifname, uint32_t cmd) {
  struct ethtool_value value = {.cmd = cmd};
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  ifr.ifr_data = (void*)&value;
  if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) return -errno;
  return value.data ? 1 : 0;
}

/* The legacy SIOCETHTOOL gets (no privilege needed): scatter-gather, TX
 * checksum offload, TSO, GSO. Each is 1, 0 or -errno (EOPNOTSUPP: the driver
 * has no ethtool operations). */
int zc__probe_ethtool(const char* ifname, int out[4]) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  static const uint32_t commands[4] = {ETHTOOL_GSG, ETHTOOL_GTXCSUM, ETHTOOL_GTSO, ETHTOOL_GGSO};
  for (int i = 0; i < 4; i++) out[i] = ethtool_get(fd, ifname, commands[i]);
  close(fd);
  return 0;
}
