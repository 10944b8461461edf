package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/webflowscim/bridge/internal/bench"
	"github.com/webflowscim/bridge/internal/config"
)

// runBench is "bridge bench" (internal/bench), driving replicas built by
// newApp exactly as serve builds them.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return bench.Run(ctx, args, stdout, stderr, newBenchReplica)
}

func newBenchReplica(ctx context.Context, cfg *config.Config, log *slog.Logger, opts bench.ReplicaOptions) (*bench.Replica, error) {
	a, err := newApp(ctx, cfg, log, appOptions{RatePeriod: opts.RatePeriod, LimiterNow: opts.LimiterNow, LimiterSleep: opts.LimiterSleep})
	if err != nil {
		return nil, err
	}
	r := &bench.Replica{
		Handler: a.handler, Redis: a.rdb, Store: a.store, SCIM: a.scim,
		StartWorkers: a.startWorkers, Close: a.Close,
	}
	if a.wsRoles != nil {
		r.DrainWorkspaceRoles = a.wsRoles.Drain
	}
	return r, nil
}
