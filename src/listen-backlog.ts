/**
 * The listen(2) backlog of the servers this package runs (static server,
 * proxy): as long as the kernel allows. The kernel caps the value at
 * net.core.somaxconn (4096 on this machine); Go's net package listens with
 * somaxconn too. Node's default is 511.
 *
 * Measured: when 10,000 clients connected at once (bench --sweep, 1 MiB),
 * the accept queue overflowed (nstat TcpExtListenOverflows, SYN cookies in
 * dmesg). The kernel dropped handshakes the clients believed complete, and
 * wrk counted hundreds of read errors per run that Go did not.
 */
export const DEFAULT_LISTEN_BACKLOG = 65_535;
