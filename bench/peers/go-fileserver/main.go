// Peer: Go's net/http FileServer, the standard library's static-file server
// (sendfile for regular files through io.Copy's ReaderFrom on *net.TCPConn,
// Range and conditional requests built in), launched like the other peers:
//
//	go-fileserver DIR --port P [--host 127.0.0.1]
//
// Built at bench time by lib/compile.mjs with the machine's Go toolchain
// (Debian's golang-go); standard library only, so it builds offline.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	root, port, host := "", "", "127.0.0.1"
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--port":
			i++
			port = args[i]
		case "--host":
			i++
			host = args[i]
		default:
			root = args[i]
		}
	}
	if root == "" || port == "" {
		fmt.Fprintln(os.Stderr, "usage: go-fileserver DIR --port P [--host 127.0.0.1]")
		os.Exit(2)
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	terminated := make(chan os.Signal, 1)
	signal.Notify(terminated, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-terminated
		os.Exit(0)
	}()
	if err := http.Serve(listener, http.FileServer(http.Dir(root))); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
