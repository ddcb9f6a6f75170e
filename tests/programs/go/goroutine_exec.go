// syscall.Exec from a goroutine locked to a thread other than the main
// one, while other goroutines sleep on timers, channels and a pipe read:
// the Go runtime's threads are all killed and the new image (this program
// again) runs under the same pid, alone. It prints facts that hold on
// Linux, not ids, so the native and sandboxed runs compare.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func threads() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Threads:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "Threads:"))
		}
	}
	return "?"
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "after" {
		pid, _ := strconv.Atoi(os.Args[2])
		tid, _ := strconv.Atoi(os.Args[3])
		fmt.Printf("new image: same pid %v, exec came from another thread %v\n",
			os.Getpid() == pid, tid != pid)
		// Before the runtime starts more threads of its own, the process
		// had one; now count what /proc shows (Go may have started some).
		fmt.Printf("threads listed: %v\n", threads() != "?")
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	defer w.Close()
	for i := 0; i < 8; i++ {
		go func() {
			buf := make([]byte, 1)
			r.Read(buf)
		}()
		go func() { time.Sleep(time.Hour) }()
		go func() { select {} }()
	}
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		// A locked goroutine started from main runs on a thread of its own.
		tid := syscall.Gettid()
		for tid == os.Getpid() {
			runtime.UnlockOSThread()
			time.Sleep(time.Millisecond)
			runtime.LockOSThread()
			tid = syscall.Gettid()
		}
		time.Sleep(50 * time.Millisecond)
		self, _ := os.Executable()
		args := []string{self, "after", strconv.Itoa(os.Getpid()), strconv.Itoa(tid)}
		done <- syscall.Exec(self, args, os.Environ())
	}()
	fmt.Fprintln(os.Stderr, "exec failed:", <-done)
	os.Exit(1)
}
