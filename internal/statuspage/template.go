package statuspage

import (
	"fmt"
	"html/template"
	"math"
	"time"
)

type pageView struct {
	Status
	Refresh  int
	CSRF     string
	Now      time.Time
	Error    string
	Redacted bool
}

type loginView struct {
	Error   string
	Minutes int // the session's length
}

func parseTemplates() (*template.Template, error) {
	funcs := template.FuncMap{
		"queueArgs": func(id string, q Queue) queueArgsView { return queueArgsView{id, q} },
		"secs":      func(f float64) string { return fmt.Sprintf("%d", int64(math.Round(f))) },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"ok": func(s string) bool { return s == "ok" || s == "available" || s == "ready" },
		"pct": func(used, limit int) int {
			if limit <= 0 {
				return 0
			}
			return int(math.Round(100 * float64(used) / float64(limit)))
		},
	}
	return template.New("statuspage").Funcs(funcs).Parse(templates)
}

const style = `<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:12px;background:#f6f7f9;color:#1d2330}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:18px 0 6px}h3{font-size:15px;margin:12px 0 4px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 12px;margin:10px 0}
.ok{color:#137333;font-weight:600}.bad{color:#b3261e;font-weight:600}.muted{color:#5f6673;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{text-align:left;padding:4px 6px;border-top:1px solid #eceff3;vertical-align:top}
td{overflow-wrap:anywhere}th{font-weight:600;color:#3b4252;white-space:nowrap}dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}dt{color:#5f6673}dd{margin:0}
.scroll{overflow-x:auto}.scroll table{min-width:560px}form{display:inline}input,button{font:inherit;padding:6px 10px}input[type=password]{width:100%;max-width:420px;box-sizing:border-box}
header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:8px}
</style>`

const templates = `
{{define "login"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Webflow SCIM bridge · status</title>` + style + `</head>
<body><h1>Webflow SCIM bridge · status</h1>
<div class="card"><form method="post" action="/admin/login">
<p><label for="token">Admin token (<code>adminTokens</code>)</label></p>
<p><input type="password" id="token" name="token" autocomplete="current-password" required autofocus></p>
{{with .Error}}<p class="bad" id="login-error">{{.}}</p>{{end}}
<p><button type="submit" id="login">Log in</button></p>
<p class="muted">The session lasts {{.Minutes}} minutes in an HttpOnly cookie; the token itself is not stored.</p>
</form></div></body></html>{{end}}

{{define "state"}}<span class="{{if ok .}}ok{{else}}bad{{end}}">{{.}}</span>{{end}}

{{define "queue"}}<dl>
<dt>Queue depth</dt><dd data-figure="{{.ID}}-pending">{{.Q.Pending}}</dd>
<dt>Oldest item</dt><dd><span data-figure="{{.ID}}-oldest">{{secs .Q.OldestPendingAgeSeconds}}</span> s</dd>
<dt>Permanent failures</dt><dd data-figure="{{.ID}}-failures">{{len .Q.Failures}}</dd>
</dl>
{{with .Q.Error}}<p class="bad">{{.}}</p>{{end}}
{{if .Q.Failures}}<div class="scroll"><table><tr><th>User</th><th>Reason</th><th>At</th></tr>
{{range .Q.Failures}}<tr><td>{{.UserID}}</td><td>{{.Error}}</td><td>{{when .At}}</td></tr>{{end}}
</table></div>{{end}}{{end}}

{{define "budget"}}{{if .}}<dt>Budget used, last minute</dt><dd><span data-figure="{{.Label}}-budget-used">{{.Used}}</span> of <span data-figure="{{.Label}}-budget-limit">{{.Limit}}</span> ({{pct .Used .Limit}}%, this replica); {{.Available}} available now</dd>{{end}}{{end}}

{{define "page"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{{.Refresh}}">
<title>Webflow SCIM bridge · {{.Readiness}}</title>` + style + `</head>
<body>
<header><h1>Webflow SCIM bridge</h1>
<form method="post" action="/admin/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit" id="logout">Log out</button></form></header>
<p class="muted">{{when .Now}} · refreshes every {{.Refresh}} s{{if .Redacted}} · emails redacted (logging.redactEmails){{end}}</p>
{{with .Error}}<div class="card bad">{{.}}</div>{{else}}
<div class="card"><dl>
<dt>Readiness</dt><dd data-figure="readiness">{{template "state" .Readiness}}</dd>
<dt>Redis</dt><dd data-figure="redis">{{template "state" .Redis.Status}}{{with .Redis.Detail}} — {{.}}{{end}}</dd>
</dl></div>

<h2>Sites</h2>
{{range .Sites}}{{$id := .ID}}<div class="card" id="site-{{.ID}}">
<h3>{{.ID}}</h3>
<dl>
<dt>Readiness</dt><dd data-figure="{{.ID}}-status">{{template "state" .Status}}</dd>
<dt>Token</dt><dd data-figure="{{.ID}}-token">{{template "state" .Token}}</dd>
<dt>User Accounts</dt><dd data-figure="{{.ID}}-userAccounts">{{template "state" .UserAccounts}}</dd>
{{with .Rebuilding}}<dt>Rebuilding</dt><dd class="bad">{{.}}</dd>{{end}}
<dt>Checked</dt><dd>{{when .CheckedAt}}</dd>
{{template "budget" .Budget}}
</dl>
<h3>Membership queue</h3>
{{template "queue" (queueArgs .ID .Queue)}}
<h3>Last reconcile</h3>
{{with .Reconcile}}<dl>
<dt>Finished</dt><dd data-figure="{{$id}}-reconciled">{{when .FinishedAt}}</dd>
<dt>Mode</dt><dd>{{if .Apply}}apply{{else}}report only{{end}}{{if .Rebuild}}, rebuild{{end}}</dd>
<dt>Webflow users / records</dt><dd>{{.WebflowUsers}} / {{.Records}}</dd>
<dt>Drift</dt><dd>unknown <span data-figure="{{$id}}-drift-unknown">{{index .Drift "unknown"}}</span>, gone {{index .Drift "gone"}}, groups {{index .Drift "groups"}}, status {{index .Drift "status"}}</dd>
<dt>Fixed</dt><dd>{{.Fixed}}</dd>
</dl>{{else}}<p class="muted" data-figure="{{.ID}}-reconciled">No reconciliation has run yet.</p>{{end}}
</div>{{end}}

{{with .Workspace}}<h2>Workspace</h2>
<div class="card" id="workspace"><dl>
<dt>Passthrough</dt><dd data-figure="workspace-passthrough">{{template "state" .Passthrough.Status}}{{with .Passthrough.Detail}} — {{.}}{{end}}</dd>
{{template "budget" .Budget}}
</dl>
{{with .Roles}}<h3>Roles queue</h3>
{{template "queue" (queueArgs "workspace" .Queue)}}
<h3>Role-locked members: <span data-figure="workspace-roleLocks">{{len .RoleLocks}}</span></h3>
{{if .RoleLocks}}<div class="scroll"><table><tr><th>Member</th><th>Webflow holds</th><th>IdP wants</th><th>Scope</th><th>Since</th></tr>
{{range .RoleLocks}}<tr><td>{{.Email}}</td><td>{{.Current}}</td><td>{{.Desired}}</td><td>{{.Scope}}</td><td>{{when .At}}</td></tr>{{end}}
</table></div>{{else}}<p class="muted">None.</p>{{end}}
{{else}}<p class="muted">Workspace roles are off (workspace.groups is not set).</p>{{end}}
</div>{{end}}

<h2>Audit: the last {{len .Audit}} changes in Webflow</h2>
<div class="card scroll">{{if .Audit}}<table id="audit"><tr><th>When</th><th>Actor</th><th>Action</th><th>Site</th><th>User</th><th>Email</th></tr>
{{range .Audit}}<tr><td>{{when .At}}</td><td>{{.Actor}}</td><td>{{.Action}}</td><td>{{.Site}}</td><td>{{.WebflowUserID}}</td><td>{{.Email}}</td></tr>{{end}}
</table>{{else}}<p class="muted">No changes since this replica started.</p>{{end}}
<p class="muted">This replica's last 50; the audit log lines are the record.</p></div>
{{end}}
</body></html>{{end}}
`

type queueArgsView struct {
	ID string
	Q  Queue
}
