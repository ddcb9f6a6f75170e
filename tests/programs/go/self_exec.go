// Runs its own executable again as a child, N times (default 100), each
// child printing its number to a pipe the parent reads, while a goroutine
// keeps the scheduler and timers busy: Go's os/exec (clone with CLONE_VFORK,
// a pipe registered with the netpoller, SIGCHLD, wait4) under load.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "child" {
		fmt.Printf("child %s\n", os.Args[2])
		return
	}
	n := 100
	if len(os.Args) == 2 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	ok := 0
	for i := 0; i < n; i++ {
		out, err := exec.Command(os.Args[0], "child", strconv.Itoa(i)).Output()
		if err != nil || string(out) != fmt.Sprintf("child %d\n", i) {
			fmt.Printf("run %d: %q %v\n", i, out, err)
			continue
		}
		ok++
	}
	close(stop)
	fmt.Printf("%d of %d children ran and were reaped\n", ok, n)
}
