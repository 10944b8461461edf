//go:build unix

package state

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the test process has used:
// on a loaded machine the benchmarks' wall time mostly measures the
// scheduler, their CPU per operation what the code costs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
