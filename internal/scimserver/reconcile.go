package scimserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// Reconciliation compares Webflow with the bridge's records and brings
// them together: someone edits members in Webflow's dashboard, Redis gets
// flushed, a replica dies mid-write. It reads Webflow at background
// priority (100 users per call) and never deletes a Webflow user.

// DriftUser names one user in a drift report.
type DriftUser struct {
	ID            string   `json:"id,omitempty"` // SCIM id
	WebflowUserID string   `json:"webflowUserId,omitempty"`
	Email         string   `json:"email,omitempty"`
	Status        string   `json:"status,omitempty"`
	From          string   `json:"from,omitempty"` // status change
	Want          []string `json:"want,omitempty"` // managed groups wanted…
	Have          []string `json:"have,omitempty"` // …and held
}

// DriftReport is what one reconciliation found and did.
type DriftReport struct {
	Site          string      `json:"site"`
	StartedAt     time.Time   `json:"startedAt"`
	FinishedAt    time.Time   `json:"finishedAt"`
	Apply         bool        `json:"apply"`
	Rebuild       bool        `json:"rebuild"`
	WebflowUsers  int         `json:"webflowUsers"`
	Records       int         `json:"records"`
	Unknown       []DriftUser `json:"unknown"`       // in Webflow, not in the bridge
	Gone          []DriftUser `json:"gone"`          // in the bridge, not in Webflow
	GroupDrift    []DriftUser `json:"groupDrift"`    // managed groups differ from the desired state
	StatusChanged []DriftUser `json:"statusChanged"` // e.g. invited → verified
	Adopted       int         `json:"adopted"`       // records rebuilt for Webflow users (rebuild only)
	Refreshed     int         `json:"refreshed"`     // records whose Webflow snapshot was updated
	Fixed         int         `json:"fixed"`         // with apply: users queued or marked
}

// DriftCounts is the drift by kind (unknown, gone, groups, status): what
// bridge_reconcile_drift and the status page show.
func (r *DriftReport) DriftCounts() map[string]int {
	return map[string]int{"unknown": len(r.Unknown), "gone": len(r.Gone), "groups": len(r.GroupDrift), "status": len(r.StatusChanged)}
}

// ErrReconcileRunning means another replica holds the reconcile lease.
var ErrReconcileRunning = errors.New("a reconciliation of this site is already running on another replica")

const reconcileLeaseID = "\x00reconcile"

// Reconcile runs one reconciliation of a site under a lease, so two
// replicas never reconcile it at once. With apply it queues the managed
// group fixes (the membership worker writes them) and marks records whose
// Webflow user is gone. With rebuild (after Redis lost its data) it also
// adopts every Webflow user it finds as a record, since the bridge can no
// longer tell which ones it created. The report is stored for metrics.
func (s *Server) Reconcile(ctx context.Context, siteID string, apply, rebuild bool) (*DriftReport, error) {
	st, ok := s.sites[siteID]
	if !ok {
		return nil, fmt.Errorf("no site %s is configured", siteID)
	}
	h := st.users
	unlock, got, err := h.store.LockUser(ctx, siteID, reconcileLeaseID, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	if !got {
		return nil, ErrReconcileRunning
	}
	defer unlock()
	rep, err := h.reconcile(withActor(webflowdata.WithPriority(ctx, webflowdata.PriorityBackground), "reconcile"), apply, rebuild)
	if err != nil {
		return nil, err
	}
	if b, err := json.Marshal(rep); err == nil {
		_ = h.store.StoreBlob(ctx, siteID, "reconcile", b)
	}
	if apply && rep.Fixed > 0 {
		h.wake()
	}
	return rep, nil
}

// LastReconcile returns the stored report of the last reconciliation.
func (s *Server) LastReconcile(ctx context.Context, siteID string) (*DriftReport, error) {
	st, ok := s.sites[siteID]
	if !ok {
		return nil, fmt.Errorf("no site %s is configured", siteID)
	}
	raw, _, err := st.users.store.CachedBlob(ctx, siteID, "reconcile")
	if err != nil {
		return nil, err
	}
	var rep DriftReport
	return &rep, json.Unmarshal(raw, &rep)
}

func (h *usersHandler) reconcile(ctx context.Context, apply, rebuild bool) (*DriftReport, error) {
	rep := &DriftReport{Site: h.site.ID, StartedAt: h.now().UTC(), Apply: apply, Rebuild: rebuild,
		Unknown: []DriftUser{}, Gone: []DriftUser{}, GroupDrift: []DriftUser{}, StatusChanged: []DriftUser{}}
	wfUsers, err := h.wf.ListAllUsers(ctx, h.site.ID)
	if err != nil {
		return nil, fmt.Errorf("reading Webflow's users: %w", err)
	}
	rep.WebflowUsers = len(wfUsers)
	recs, err := h.allRecords(ctx)
	if err != nil {
		return nil, err
	}
	rep.Records = len(recs)
	byWebflowID := make(map[string]*state.UserRecord, len(recs))
	for _, r := range recs {
		if r.WebflowUserID != "" {
			byWebflowID[r.WebflowUserID] = r
		}
	}
	managed, err := h.store.ManagedSlugs(ctx, h.site.ID)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(wfUsers))
	for i := range wfUsers {
		wu := &wfUsers[i]
		seen[wu.ID] = true
		rec := byWebflowID[wu.ID]
		if rec == nil {
			if rec, err = h.store.FindUser(ctx, h.site.ID, state.IndexEmail, wu.Email()); err != nil {
				rec = nil
			}
		}
		if rec == nil {
			rep.Unknown = append(rep.Unknown, DriftUser{WebflowUserID: wu.ID, Email: wu.Email(), Status: wu.Status})
			if rebuild {
				if _, err := h.adopt(ctx, wu); err == nil {
					rep.Adopted++
				}
			}
			continue
		}
		if prev := decodeWebflow(rec); prev == nil || prev.Status != wu.Status {
			from := ""
			if prev != nil {
				from = prev.Status
			}
			rep.StatusChanged = append(rep.StatusChanged, DriftUser{ID: rec.ID, WebflowUserID: wu.ID, Email: wu.Email(), From: from, Status: wu.Status})
		}
		// Managed-group drift, against what the IdP wants.
		_, desired, err := h.desiredSlugs(ctx, rec)
		if err != nil {
			return nil, err
		}
		if _, changed := fullList(wu, managed, desired); changed {
			var have []string
			for _, sl := range wu.Slugs() {
				if managed[sl] {
					have = append(have, sl)
				}
			}
			rep.GroupDrift = append(rep.GroupDrift, DriftUser{ID: rec.ID, WebflowUserID: wu.ID, Email: wu.Email(), Want: desired, Have: have})
			if apply {
				if err := h.store.Enqueue(ctx, h.site.ID, rec.ID); err == nil {
					rep.Fixed++
				}
			}
		}
		// Rebuild the record's Webflow snapshot and indexes.
		out := *rec
		h.fill(&out, decodeUser(rec), rec.Email, wu)
		if err := h.save(ctx, &out); err == nil {
			rep.Refreshed++
		}
	}
	for _, rec := range recs {
		if rec.WebflowUserID == "" || seen[rec.WebflowUserID] {
			continue
		}
		rep.Gone = append(rep.Gone, DriftUser{ID: rec.ID, WebflowUserID: rec.WebflowUserID, Email: rec.Email})
		if apply {
			// The Webflow user was deleted behind our back: the SCIM record
			// stays (the IdP holds its id), unlinked and inactive; a
			// reactivation invites the user again.
			out := *rec
			out.WebflowUserID, out.Webflow, out.Active = "", nil, false
			if err := h.save(ctx, &out); err == nil {
				rep.Fixed++
				h.log.Info("audit: reconcile marked a record whose Webflow user is gone", "audit", true, "id", rec.ID, "email", rec.Email)
			}
		}
	}
	rep.FinishedAt = h.now().UTC()
	h.log.Info("reconciliation finished", "webflow_users", rep.WebflowUsers, "records", rep.Records, "unknown", len(rep.Unknown),
		"gone", len(rep.Gone), "group_drift", len(rep.GroupDrift), "status_changed", len(rep.StatusChanged), "adopted", rep.Adopted, "apply", apply)
	return rep, nil
}

// allRecords reads every record of the site, 500 per round trip.
func (h *usersHandler) allRecords(ctx context.Context) ([]*state.UserRecord, error) {
	var out []*state.UserRecord
	for offset := 0; ; offset += scanBatch {
		ids, total, err := h.store.ListUserIDs(ctx, h.site.ID, offset, scanBatch)
		if err != nil {
			return nil, err
		}
		recs, err := h.store.GetUsers(ctx, h.site.ID, ids)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
		if len(ids) < scanBatch || offset+len(ids) >= total {
			return out, nil
		}
	}
}

// adopt creates a record for a Webflow user (after Redis lost the
// bridge's, or for an id the IdP holds that the store does not): the SCIM
// id is the Webflow id, as it was at creation. A record that appeared
// meanwhile is returned as it is.
func (h *usersHandler) adopt(ctx context.Context, wu *webflowdata.User) (*state.UserRecord, error) {
	rec := &state.UserRecord{ID: wu.ID, SiteID: h.site.ID, Active: true, Adopted: true}
	h.fill(rec, mapping.User{UserName: wu.Email(), DisplayName: wu.Data.Name(), Active: true}, wu.Email(), wu)
	err := h.store.CreateUser(ctx, rec)
	h.misses.Forget(wu.ID)
	if errors.Is(err, state.ErrExists) {
		return h.store.GetUser(ctx, h.site.ID, wu.ID)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// Redis-loss detection. Each replica writes a marker per site at start and
// checks it every few seconds; a marker that vanished while the bridge ran
// means Redis lost its data (flushed, or restarted without persistence).
// The replica that sees it first rebuilds the site's records from Webflow
// in the background, and says so in the marker ("rebuilding", rewritten at
// every check as a heartbeat) until it is done, so that every replica
// knows the site is rebuilding: only then do unknown ids and empty
// lookups ask Webflow (see usersHandler.load). A rebuilding marker whose
// heartbeat stopped (its replica died) is taken over by the next replica
// that sees it. Readiness says "rebuilding" on every replica meanwhile.

const (
	markerBlob       = "marker"
	markerSteady     = "1"
	markerRebuilding = "rebuilding"
	// rebuildClaimID names the lease that lets one replica start a
	// rebuild; it is never released, only left to expire.
	rebuildClaimID = "\x00rebuild"
)

// rebuildStaleAfter is how long a rebuilding marker lives without a
// heartbeat before another replica takes the rebuild over: 15 missed
// checks (30 s at the 2 s of serve), far more than the clock skew between
// replicas.
func rebuildStaleAfter(every time.Duration) time.Duration { return 15 * every }

// rebuildState is a site's rebuild after a Redis loss, as this replica
// knows it.
type rebuildState struct {
	// running is set while this replica rebuilds; peer while another
	// does (the marker says so); again when Redis loses the data once
	// more during this replica's rebuild, which then runs again.
	running, peer, again atomic.Bool
	// mu orders the marker writes of the heartbeat and of the end of the
	// rebuild, so a late heartbeat never overwrites "steady".
	mu sync.Mutex
}

// inRebuild reports whether the site is rebuilding after a Redis loss, on
// this replica or, as its marker says, on another.
func (h *usersHandler) inRebuild() bool { return h.rebuild.running.Load() || h.rebuild.peer.Load() }

// enterRebuild records that the site is rebuilding (kind is the flag to
// set). The misses remembered before are cleared: an id that was unknown
// to the store may belong to a Webflow user to adopt now.
func (h *usersHandler) enterRebuild(kind *atomic.Bool) {
	was := h.inRebuild()
	kind.Store(true)
	if !was {
		h.misses.Clear()
	}
}

// WatchStore runs the loss detection until ctx ends.
func (s *Server) WatchStore(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 2 * time.Second
	}
	for _, st := range s.sites {
		// A replica starting while another rebuilds leaves the marker as
		// it is; a missing one here is a new (or already lost) store.
		if raw, _, err := st.users.store.CachedBlob(ctx, st.cfg.ID, markerBlob); errors.Is(err, state.ErrNotFound) || (err == nil && string(raw) != markerRebuilding) {
			_ = st.users.store.StoreBlob(ctx, st.cfg.ID, markerBlob, []byte(markerSteady))
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for id, st := range s.sites {
			s.checkMarker(ctx, id, st, every)
		}
	}
}

// checkMarker is one check of a site's marker.
func (s *Server) checkMarker(ctx context.Context, id string, st *site, every time.Duration) {
	h := st.users
	wasRunning := h.rebuild.running.Load()
	raw, at, err := h.store.CachedBlob(ctx, id, markerBlob)
	lost := errors.Is(err, state.ErrNotFound)
	switch {
	case wasRunning != h.rebuild.running.Load():
		// This replica's rebuild ended while the marker was read: what was
		// read may be its own last heartbeat, which is no peer's. The next
		// check reads the marker the end wrote.
		return
	case err != nil && !lost:
		return // the store is unreachable: nothing to learn
	case h.rebuild.running.Load():
		if lost {
			// Lost again while rebuilding: what was adopted is gone too.
			h.rebuild.again.Store(true)
			s.log.Error("Redis lost the bridge's data again during the rebuild; it will run once more", "site", id)
		}
		h.rebuild.mu.Lock()
		if h.rebuild.running.Load() {
			_ = h.store.StoreBlob(ctx, id, markerBlob, []byte(markerRebuilding)) // the heartbeat
		}
		h.rebuild.mu.Unlock()
		return
	case !lost && string(raw) == markerRebuilding && time.Since(at) < rebuildStaleAfter(every):
		h.enterRebuild(&h.rebuild.peer)
		return
	case !lost && string(raw) != markerRebuilding:
		h.rebuild.peer.Store(false)
		return
	}
	// The marker is gone, or its rebuilder died. Every replica may see it
	// in the same check: one claims the rebuild, the others follow it.
	_, got, err := h.store.LockUser(ctx, id, rebuildClaimID, rebuildStaleAfter(every))
	if err != nil {
		return
	}
	if !got {
		h.enterRebuild(&h.rebuild.peer)
		return
	}
	if lost {
		s.log.Error("Redis lost the bridge's data (the site marker is gone); rebuilding records from Webflow", "site", id)
	} else {
		s.log.Warn("the replica rebuilding this site stopped without finishing; taking the rebuild over", "site", id, "last_heartbeat", at)
	}
	h.enterRebuild(&h.rebuild.running)
	h.rebuild.peer.Store(false)
	_ = h.store.StoreBlob(ctx, id, markerBlob, []byte(markerRebuilding))
	go s.rebuild(ctx, id, h)
}

// rebuild adopts the site's Webflow users until a reconciliation succeeds
// (another replica's lease, or Webflow failing, make it retry), then
// marks the site steady.
func (s *Server) rebuild(ctx context.Context, id string, h *usersHandler) {
	defer h.rebuild.running.Store(false)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		h.rebuild.again.Store(false)
		rep, err := s.Reconcile(ctx, id, false, true)
		if err == nil && h.rebuild.again.Load() {
			continue
		}
		if err == nil {
			// "steady" is written before running is cleared, so a check
			// that sees running false reads "steady" (or a later marker),
			// never this replica's own heartbeat.
			h.rebuild.mu.Lock()
			if err := h.store.StoreBlob(ctx, id, markerBlob, []byte(markerSteady)); err != nil {
				s.log.Warn("rebuild finished, but the site marker could not be written; other replicas take it over once its heartbeat is old", "site", id, "error", err)
			}
			h.rebuild.running.Store(false)
			h.rebuild.mu.Unlock()
			s.log.Info("rebuild after Redis loss finished", "site", id, "adopted", rep.Adopted, "webflow_users", rep.WebflowUsers)
			return
		}
		s.log.Warn("rebuild after Redis loss failed; retrying", "site", id, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Second<<min(attempt, 6), time.Minute)):
		}
	}
}

// Rebuilding reports whether a site is rebuilding after a Redis loss, on
// this replica or another.
func (s *Server) Rebuilding(siteID string) bool {
	st, ok := s.sites[siteID]
	return ok && st.users.inRebuild()
}
