package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/webflowscim/bridge/internal/scimserver"
	"github.com/webflowscim/bridge/internal/workspacegroups"
)

// runReconcile is "bridge reconcile --config FILE --site ID [--apply] [--rebuild] [--json]":
// compare Webflow with the bridge's records and report the drift; with
// --apply, fix what is safe (managed groups, records whose user is gone);
// with --rebuild, adopt every Webflow user the bridge does not know, as
// the bridge does by itself when it sees Redis lose its data.
func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "bridge.yaml", "config file")
	site := fs.String("site", "", "Webflow site id (this or --workspace)")
	workspace := fs.Bool("workspace", false, "reconcile the workspace roles and site access that workspace.groups gives (instead of a site): report each member whose role or per-site access differs from the IdP's groups; with --apply, write the fewest calls that restore them")
	apply := fs.Bool("apply", false, "fix what is safe: re-apply the desired managed groups, mark records whose Webflow user is gone")
	rebuild := fs.Bool("rebuild", false, "adopt every Webflow user the bridge does not know as a record: only after Redis lost the bridge's data while no bridge ran (a loss the running bridge sees, it rebuilds by itself); every adopted user becomes a SCIM resource the site's tokens can change and delete")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *site == "" && !*workspace:
		return errors.New("--site or --workspace is required")
	case *site != "" && *workspace:
		return errors.New("--site and --workspace reconcile different things; give one")
	case *workspace && *rebuild:
		return errors.New("--rebuild is for a site's records; the workspace has none to rebuild")
	}
	cfg, log, err := loadConfigLogged(*path, stderr)
	if err != nil {
		return err
	}
	a, err := newApp(ctx, cfg, log, appOptions{})
	if err != nil {
		return err
	}
	defer a.Close()
	if *workspace {
		if a.wsRoles == nil {
			return errors.New("--workspace needs workspace.groups in the config")
		}
		rep, err := a.wsRoles.Reconcile(ctx, *apply)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		rep.WriteText(stdout)
		return nil
	}
	rep, err := reconcileOnce(ctx, a.scim, *site, *apply, *rebuild, log)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printReport(stdout, rep)
	return nil
}

// reconcileOnce reconciles a site and, with apply, drains the fixes it
// queued so they are written before it returns.
func reconcileOnce(ctx context.Context, srv *scimserver.Server, site string, apply, rebuild bool, log *slog.Logger) (*scimserver.DriftReport, error) {
	rep, err := srv.Reconcile(ctx, site, apply, rebuild)
	if err != nil {
		return nil, err
	}
	if apply && rep.Fixed > 0 {
		if err := srv.Drain(ctx); err != nil {
			log.Warn("some queued fixes are not written yet; the workers will retry", "error", err)
		}
	}
	return rep, nil
}

func printReport(w io.Writer, r *scimserver.DriftReport) {
	fmt.Fprintf(w, "site %s: %d Webflow users, %d bridge records (%s)\n", r.Site, r.WebflowUsers, r.Records, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	section := func(title string, us []scimserver.DriftUser, line func(scimserver.DriftUser) string) {
		fmt.Fprintf(w, "%s: %d\n", title, len(us))
		for _, u := range us {
			fmt.Fprintf(w, "  %s\n", line(u))
		}
	}
	section("Webflow users the bridge does not know", r.Unknown, func(u scimserver.DriftUser) string {
		return fmt.Sprintf("%s %s (%s)", u.WebflowUserID, u.Email, u.Status)
	})
	section("bridge records whose Webflow user is gone", r.Gone, func(u scimserver.DriftUser) string {
		return fmt.Sprintf("%s %s (was %s)", u.ID, u.Email, u.WebflowUserID)
	})
	section("managed groups that differ from the desired state", r.GroupDrift, func(u scimserver.DriftUser) string {
		return fmt.Sprintf("%s %s: want %v, holds %v", u.ID, u.Email, u.Want, u.Have)
	})
	section("status changes", r.StatusChanged, func(u scimserver.DriftUser) string {
		return fmt.Sprintf("%s %s: %s -> %s", u.ID, u.Email, u.From, u.Status)
	})
	if r.Apply {
		fmt.Fprintf(w, "applied: %d fixes\n", r.Fixed)
	} else {
		fmt.Fprintln(w, "dry run: run with --apply to fix the managed groups and mark the records whose user is gone")
	}
}

// reconcileLoop runs a reconciliation of every site, and of the workspace
// roles when ws is set, every interval; the leases make sure only one
// replica runs each at a time.
func reconcileLoop(ctx context.Context, srv *scimserver.Server, sites []string, ws *workspacegroups.Worker, interval time.Duration, apply bool, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, id := range sites {
			if _, err := srv.Reconcile(ctx, id, apply, false); err != nil && !errors.Is(err, scimserver.ErrReconcileRunning) && ctx.Err() == nil {
				log.Warn("periodic reconciliation failed", "site", id, "error", err)
			}
		}
		if ws != nil {
			if _, err := ws.Reconcile(ctx, apply); err != nil && !errors.Is(err, workspacegroups.ErrReconcileRunning) && ctx.Err() == nil {
				log.Warn("periodic workspace reconciliation failed", "error", err)
			}
		}
	}
}
