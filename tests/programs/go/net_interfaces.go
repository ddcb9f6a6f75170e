// The interfaces as Go's net package reads them: net.Interfaces and
// Addrs (RTM_GETLINK and RTM_GETADDR dumps read with a page-sized
// buffer), InterfaceAddrs, InterfaceByName and InterfaceByIndex (one link,
// and the "no such network interface" error).
package main

import (
	"fmt"
	"net"
)

func main() {
	ifs, err := net.Interfaces()
	if err != nil {
		fmt.Println("Interfaces:", err)
		return
	}
	for _, i := range ifs {
		addrs, err := i.Addrs()
		fmt.Println(i.Index, i.Name, i.MTU, i.HardwareAddr, i.Flags, addrs, err)
		mc, err := i.MulticastAddrs()
		fmt.Println("  multicast", len(mc) >= 0, err == nil)
	}
	all, err := net.InterfaceAddrs()
	fmt.Println(all, err)
	lo, err := net.InterfaceByName("lo")
	fmt.Println(lo, err)
	one, err := net.InterfaceByIndex(1)
	fmt.Println(one, err)
	_, err = net.InterfaceByName("nosuch0")
	fmt.Println(err)
	_, err = net.InterfaceByIndex(99)
	fmt.Println(err)
	fmt.Println("PASS")
}
