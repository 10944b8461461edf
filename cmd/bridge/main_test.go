package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// The binary raises the GC target unless GOGC is set; an operator's GOGC
// always wins.
func TestGCPercentDefault(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	t.Setenv("GOGC", "150")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the target changed to %d", got)
	}
	os.Unsetenv("GOGC") // restored by t.Setenv's cleanup
	setGCPercent()
	if got := debug.SetGCPercent(100); got != defaultGOGC {
		t.Errorf("without GOGC the target is %d, want %d", got, defaultGOGC)
	}
}
