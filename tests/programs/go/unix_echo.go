// An echo server on a Unix socket, as Go's net package drives one:
// non-blocking sockets in the netpoller (edge-triggered epoll), accept4,
// connect's SO_ERROR, deadlines; 20 goroutines x 50 round trips, a
// datagram exchange, and a descriptor passed over SCM_RIGHTS.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

func main() {
	dir, err := os.MkdirTemp("", "go-unix")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "echo.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		panic(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}(c)
		}
	}()

	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			c, err := net.Dial("unix", path)
			if err != nil {
				fmt.Println("dial:", err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			r := bufio.NewReader(c)
			for i := 0; i < 50; i++ {
				msg := fmt.Sprintf("%d-%d\n", g, i)
				if _, err := c.Write([]byte(msg)); err != nil {
					fmt.Println("write:", err)
					return
				}
				back, err := r.ReadString('\n')
				if err != nil || back != msg {
					fmt.Println("read:", back, err)
					return
				}
			}
			mu.Lock()
			ok++
			mu.Unlock()
		}(g)
	}
	wg.Wait()
	fmt.Printf("stream: %d of 20 clients echoed 50 lines\n", ok)

	// A read deadline on an idle connection times out.
	c, err := net.Dial("unix", path)
	if err != nil {
		panic(err)
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	fmt.Println("deadline:", err != nil && os.IsTimeout(err))
	c.Close()
	l.Close()
	_, err = net.Dial("unix", path)
	fmt.Println("dial a closed listener:", err != nil)

	// Datagrams between two named sockets.
	a, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "a"), Net: "unixgram"})
	if err != nil {
		panic(err)
	}
	b, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "b"), Net: "unixgram"})
	if err != nil {
		panic(err)
	}
	a.WriteToUnix([]byte("dgram"), b.LocalAddr().(*net.UnixAddr))
	buf := make([]byte, 16)
	n, from, err := b.ReadFromUnix(buf)
	fmt.Printf("unixgram: %q from a: %v %v\n", buf[:n], from != nil && filepath.Base(from.Name) == "a", err)

	// A pipe's read end passed over SCM_RIGHTS.
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	pr, pw, _ := os.Pipe()
	pw.Write([]byte("passed"))
	pw.Close()
	rights := syscall.UnixRights(int(pr.Fd()))
	syscall.Sendmsg(fds[0], []byte("x"), rights, nil, 0)
	pr.Close()
	oob := make([]byte, syscall.CmsgSpace(4))
	_, oobn, _, _, err := syscall.Recvmsg(fds[1], make([]byte, 1), oob, 0)
	msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
	got, _ := syscall.ParseUnixRights(&msgs[0])
	f := os.NewFile(uintptr(got[0]), "passed")
	data := make([]byte, 16)
	n, _ = f.Read(data)
	fmt.Printf("rights: %q %v\n", data[:n], err)
}
