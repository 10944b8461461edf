package passthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// ErrUserNotFound is FetchUser's answer for an id native SCIM does not have.
var ErrUserNotFound = errors.New("passthrough: native SCIM has no such user")

// FetchUser reads one user from native SCIM (GET /Users/{id}, paced like
// every proxied call, seen by the Observer) and records its link. It is
// for ids the IdP holds from before the bridge recorded links: the IdP got
// every id it sends from native SCIM, so one read per such id, once,
// settles it. ErrUserNotFound for a 404.
func (p *Proxy) FetchUser(ctx context.Context, id string) (*state.Collaborator, error) {
	if !ValidID(id) {
		return nil, ErrUserNotFound
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	if err := p.limiter.Wait(ctx, p.key); err != nil {
		return nil, fmt.Errorf("passthrough: waiting for the native SCIM budget: %w", err)
	}
	u := p.base.String() + "/Users/" + url.PathEscape(id)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.opts.Token.Reveal())
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", UserAgent)
	start := time.Now()
	res, err := p.opts.Transport.RoundTrip(req)
	status := 0
	if res != nil {
		status = res.StatusCode
	}
	if p.opts.Observer != nil {
		p.opts.Observer.ObserveCall(webflowdata.CallInfo{Method: http.MethodGet, Endpoint: "GET " + p.basePath + "/Users/{id}", Status: status, Attempt: 1, Duration: time.Since(start), Err: err})
	}
	if err != nil {
		return nil, fmt.Errorf("passthrough: reading native SCIM user: %w", err)
	}
	defer res.Body.Close()
	p.limiter.Observe(ctx, p.key, webflowdata.RateInfoFrom(res))
	switch {
	case res.StatusCode == http.StatusNotFound:
		return nil, ErrUserNotFound
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("passthrough: native SCIM answered %d to GET /Users/{id}", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes))
	if err != nil {
		return nil, err
	}
	d, ok := parseUser(b)
	if !ok || d.ID != id {
		return nil, fmt.Errorf("passthrough: native SCIM answered GET /Users/{id} with no user %s", id)
	}
	c := d.collaborator()
	p.record(ctx, c)
	return &c, nil
}

// ValidID reports whether id can be a native SCIM user id on this
// surface: [A-Za-z0-9._~-]{1,128}, as the proxy's path grammar takes.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen || id == "." || id == ".." {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !idByte(id[i], false) {
			return false
		}
	}
	return true
}
