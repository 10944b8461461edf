package state

import (
	"os"
	"testing"

	"github.com/webflowscim/bridge/internal/redistest"
)

// With REDIS_TOPOLOGY=cluster or sentinel the package's suites that honour
// REDIS_URL run on a real Redis Cluster or Sentinel setup started for this
// test binary (internal/redistest).
func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
