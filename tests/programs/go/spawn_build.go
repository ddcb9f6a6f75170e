// Runs `go build` in a child process and then the program it built: the
// program of issue 17, which hung under runsc-rs about 2 runs in 3 (Go's
// netpoller slept in epoll_wait while another thread registered the
// child's output pipe).
package main

import (
	"fmt"
	"os"
	"os/exec"
)

func main() {
	d, err := os.MkdirTemp("", "spawn_build")
	if err != nil {
		fmt.Println("mkdtemp:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(d)
	src := "package main\nfunc main(){println(\"hi\")}\n"
	if err := os.WriteFile(d+"/a.go", []byte(src), 0666); err != nil {
		fmt.Println("write:", err)
		os.Exit(1)
	}
	out, err := exec.Command("go", "build", "-o", d+"/a.exe", d+"/a.go").CombinedOutput()
	fmt.Printf("build: %q %v\n", out, err)
	out, err = exec.Command(d + "/a.exe").CombinedOutput()
	fmt.Printf("run: %q %v\n", out, err)
}
