//go:build !unix

package provider

import "testing"

// cpuClock reports nothing where getrusage is unavailable.
type cpuClock struct{}

func startCPU() cpuClock { return cpuClock{} }

func (cpuClock) report(*testing.B) {}
