package scimserver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/mapping"
	"github.com/webflowscim/bridge/internal/state"
	"github.com/webflowscim/bridge/internal/webflowdata"
)

// sameWebflowUser compares two Webflow users by their API JSON, which is
// what the bridge ever shows of them (times at millisecond precision).
func sameWebflowUser(t *testing.T, got, want *webflowdata.User) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("Webflow user:\n got %s\nwant %s", g, w)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	at := webflowdata.NewTime(time.Date(2026, 11, 26, 20, 38, 0, 473_000_000, time.UTC))
	const id, email = "6287ec36a841b25637c663df", "Alice@Example.com"
	full := func() *webflowdata.User {
		return &webflowdata.User{ID: id, IsEmailVerified: true, Status: webflowdata.StatusVerified,
			CreatedOn: at, LastUpdated: webflowdata.NewTime(at.Add(time.Hour)), InvitedOn: webflowdata.NewTime(at.Add(-time.Hour)), LastLogin: webflowdata.NewTime(at.Add(2 * time.Hour)),
			AccessGroups: []webflowdata.AccessGroupRef{{Slug: "gold", Type: webflowdata.AccessGroupAdmin}, {Slug: "shop", Type: webflowdata.AccessGroupEcommerce}, {Slug: "bare"}},
			Data:         webflowdata.UserData{"email": email, "name": "Alice", "accept-privacy": true, "count": 3.5, "nested": map[string]any{"a": []any{"b"}}}}
	}
	tests := []struct {
		name   string
		change func(u *webflowdata.User)
		// recID and recEmail are the record's webflowUserId and email.
		recID, recEmail string
		in, out         []string // substrings the snapshot must (not) contain
		recDisplayName  string   // the record's displayName
	}{
		{"full", func(*webflowdata.User) {}, id, email, []string{snapshotFormat + ",", `"b":98,`, `"g":[{"s":"gold","t":"admin"}`},
			[]string{id, email, `"id"`, `"ne"`, `"s":"verified"`, `"ev"`}, ""},
		{"minimal", func(u *webflowdata.User) {
			u.IsEmailVerified, u.Status, u.AccessGroups = false, "", []webflowdata.AccessGroupRef{}
			u.CreatedOn, u.LastUpdated, u.InvitedOn, u.LastLogin = webflowdata.Time{}, webflowdata.Time{}, webflowdata.Time{}, webflowdata.Time{}
			u.Data = webflowdata.UserData{"email": email}
		}, id, email, nil, []string{`"g"`, `"d"`, `"c"`, `"u"`, `"i"`, `"l"`, `"ev"`}, ""},
		{"email differs from the record's", func(*webflowdata.User) {}, id, "alice@example.com", []string{`"email":"Alice@Example.com"`}, nil, ""},
		{"data without email", func(u *webflowdata.User) { delete(u.Data, "email") }, id, email, []string{`"ne":true`}, nil, ""},
		{"empty data", func(u *webflowdata.User) { u.Data = webflowdata.UserData{} }, id, email, []string{`"ne":true`}, nil, ""},
		{"non-string email", func(u *webflowdata.User) { u.Data["email"] = 7.0 }, id, email, []string{`"email":7`}, nil, ""},
		{"empty email", func(u *webflowdata.User) { u.Data["email"] = "" }, id, "", nil, []string{`"email"`, `"ne"`}, ""},
		{"id differs from the record's", func(*webflowdata.User) {}, "other", email, []string{`"id":"` + id + `"`}, nil, ""},
		{"record without webflowUserId", func(*webflowdata.User) {}, "", email, []string{`"id":"` + id + `"`}, nil, ""},
		{"empty id", func(u *webflowdata.User) { u.ID = "" }, id, email, []string{`"id":""`}, nil, ""},
		{"epoch", func(u *webflowdata.User) { u.CreatedOn = webflowdata.NewTime(time.Unix(0, 0)) }, id, email, []string{`"c":0`}, nil, ""},
		{"name is the record's displayName", func(*webflowdata.User) {}, id, email, []string{`"b":114,`}, []string{`"name"`, `"accept-privacy"`}, "Alice"},
		{"name differs from the record's displayName", func(*webflowdata.User) {}, id, email, []string{`"name":"Alice"`, `"b":98,`}, nil, "alice"},
		{"consent flags false", func(u *webflowdata.User) { u.Data["accept-privacy"], u.Data["accept-communications"] = false, false }, id, email,
			[]string{`"b":101,`}, []string{"accept-"}, ""},
		{"consent flags true", func(u *webflowdata.User) { u.Data["accept-communications"] = true }, id, email, []string{`"b":106,`}, []string{"accept-"}, ""},
		{"consent flags not booleans", func(u *webflowdata.User) { u.Data["accept-privacy"], u.Data["accept-communications"] = "yes", nil }, id, email,
			[]string{`"accept-privacy":"yes"`, `"accept-communications":null`, `"b":96,`}, nil, ""},
		{"name not a string", func(u *webflowdata.User) { u.Data["name"] = 7.0 }, id, email, []string{`"name":7`}, nil, "7"},
		{"empty name and displayName", func(u *webflowdata.User) { u.Data["name"] = "" }, id, email, []string{`"b":114,`}, []string{`"name"`}, ""},
		{"an Okta user as invited", func(u *webflowdata.User) {
			u.InvitedOn, u.LastLogin, u.AccessGroups = webflowdata.Time{}, webflowdata.Time{}, []webflowdata.AccessGroupRef{}
			u.Data = webflowdata.UserData{"email": email, "name": "Alice", "accept-privacy": false, "accept-communications": false}
		}, id, email, []string{`"b":117,`}, []string{`"d"`, `"g"`}, "Alice"},
		{"lastUpdated equals createdOn", func(u *webflowdata.User) { u.LastUpdated = u.CreatedOn }, id, email, []string{`"b":610,`}, []string{`"u"`}, ""},
		{"lastUpdated equals createdOn at millisecond precision", func(u *webflowdata.User) {
			u.LastUpdated = webflowdata.NewTime(u.CreatedOn.Add(400 * time.Microsecond))
		},
			id, email, []string{`"b":610,`}, []string{`"u"`}, ""},
		{"only createdOn", func(u *webflowdata.User) { u.LastUpdated = webflowdata.Time{} }, id, email, []string{`"b":98,`, `"c":`}, []string{`"u"`}, ""},
		{"only lastUpdated", func(u *webflowdata.User) { u.CreatedOn = webflowdata.Time{} }, id, email, []string{`"b":98,`, `"u":`}, []string{`"c"`}, ""},
		{"invited, not verified", func(u *webflowdata.User) { u.Status, u.IsEmailVerified = webflowdata.StatusInvited, false }, id, email, []string{`"b":130,`}, []string{`{"f":1,"s":`, `"ev"`}, ""},
		{"unverified", func(u *webflowdata.User) { u.Status = webflowdata.StatusUnverified }, id, email, []string{`"b":290,`}, []string{`{"f":1,"s":`}, ""},
		{"a status Webflow does not document", func(u *webflowdata.User) { u.Status = "suspended" }, id, email, []string{`"s":"suspended"`, `"b":34,`}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wu := full()
			tc.change(wu)
			rec := &state.UserRecord{WebflowUserID: tc.recID, Email: tc.recEmail, DisplayName: tc.recDisplayName}
			raw, err := encodeSnapshot(wu, rec)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.in {
				if !strings.Contains(string(raw), s) {
					t.Errorf("snapshot %s lacks %s", raw, s)
				}
			}
			for _, s := range tc.out {
				if strings.Contains(string(raw), s) {
					t.Errorf("snapshot %s contains %s", raw, s)
				}
			}
			got, err := decodeSnapshot(raw, rec)
			if err != nil {
				t.Fatal(err)
			}
			sameWebflowUser(t, got, wu)
			if _, ok := wu.Data["email"]; ok && got.Email() != wu.Email() {
				t.Errorf("email = %q, want %q", got.Email(), wu.Email())
			}
		})
	}
}

// TestSnapshotCoversWebflowUser fails when webflowdata.User gains a field,
// which the snapshot would otherwise drop silently.
func TestSnapshotCoversWebflowUser(t *testing.T) {
	var names []string
	typ := reflect.TypeFor[webflowdata.User]()
	for i := range typ.NumField() {
		names = append(names, typ.Field(i).Name)
	}
	want := "ID IsEmailVerified LastUpdated InvitedOn CreatedOn LastLogin Status AccessGroups Data"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("webflowdata.User fields are %s; teach encodeSnapshot and decodeSnapshot the new ones (was %s)", got, want)
	}
}

// TestSnapshotOldFormat: snapshots stored before the compact format (the
// full Webflow user JSON) still decode, whatever the record holds.
func TestSnapshotOldFormat(t *testing.T) {
	old := `{"id":"wf-1","isEmailVerified":true,"lastUpdated":"2026-11-26T20:38:00.473Z","invitedOn":null,"createdOn":"2026-11-26T20:38:00.473Z",` +
		`"lastLogin":null,"status":"verified","accessGroups":[{"slug":"gold","type":"admin"}],"data":{"email":"a@x","name":"A"}}`
	rec := &state.UserRecord{ID: "u1", WebflowUserID: "wf-1", Email: "A@X", Webflow: json.RawMessage(old)}
	got := decodeWebflow(rec)
	var want webflowdata.User
	if err := json.Unmarshal([]byte(old), &want); err != nil {
		t.Fatal(err)
	}
	sameWebflowUser(t, got, &want)
	if got.Email() != "a@x" || got.ID != "wf-1" {
		t.Fatalf("decoded %+v", got)
	}
}

func TestFillRecord(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	u := mapping.User{UserName: "Alice@Example.com", DisplayName: "Alice", ExternalID: "ext", Active: true,
		Name: mapping.Name{GivenName: "Alice"}, Emails: []mapping.Email{{Value: "alice@example.com", Primary: true}}}
	wu := &webflowdata.User{ID: "wf-1", Status: webflowdata.StatusVerified, AccessGroups: []webflowdata.AccessGroupRef{},
		Data: webflowdata.UserData{"email": "alice@example.com", "name": "Alice"}}

	rec := &state.UserRecord{ID: "wf-1", SiteID: "s", Active: true}
	FillRecord(rec, u, "alice@example.com", wu, now)
	if rec.UserName != u.UserName || rec.Email != "alice@example.com" || rec.ExternalID != "ext" || rec.DisplayName != "Alice" ||
		rec.WebflowUserID != "wf-1" || !rec.SyncedAt.Equal(now) {
		t.Fatalf("record fields: %+v", rec)
	}
	for _, s := range []string{`"userName"`, `"active"`, "Alice@Example.com"} {
		if strings.Contains(string(rec.SCIM), s) {
			t.Errorf("SCIM blob %s repeats %s", rec.SCIM, s)
		}
	}
	if got := decodeUser(rec); !reflect.DeepEqual(got, u) {
		t.Fatalf("decodeUser = %+v, want %+v", got, u)
	}
	rec.Active = false
	if got := decodeUser(rec); got.Active {
		t.Fatal("decodeUser must take active from the record")
	}
	sameWebflowUser(t, decodeWebflow(rec), wu)

	// The email changes without a new Webflow user: the stored snapshot
	// must still say what Webflow holds, not the new email.
	u.Emails[0].Value = "alice@new.example"
	synced := rec.SyncedAt
	FillRecord(rec, u, "alice@new.example", nil, now.Add(time.Hour))
	if rec.Email != "alice@new.example" || !rec.SyncedAt.Equal(synced) {
		t.Fatalf("record fields: %+v", rec)
	}
	sameWebflowUser(t, decodeWebflow(rec), wu)

	// Unlinked records have no snapshot, and fill keeps it that way.
	rec.WebflowUserID, rec.Webflow = "", nil
	FillRecord(rec, u, "alice@new.example", nil, now)
	if rec.Webflow != nil || decodeWebflow(rec) != nil {
		t.Fatalf("snapshot %s appeared", rec.Webflow)
	}
}

// TestSCIMBlobOldFormat: SCIM blobs stored with userName and active still
// decode, the record's active flag winning.
func TestSCIMBlobOldFormat(t *testing.T) {
	rec := &state.UserRecord{UserName: "bob", Active: false, SCIM: json.RawMessage(`{"userName":"bob","name":{"givenName":"Bob"},"active":true}`)}
	got := decodeUser(rec)
	if got.UserName != "bob" || got.Active || got.Name.GivenName != "Bob" {
		t.Fatalf("decodeUser = %+v", got)
	}
}

// TestSCIMBlobRoundTrip: the SCIM blob keeps only what the record does not
// hold, and decodeUser gives back exactly the user FillRecord was given.
func TestSCIMBlobRoundTrip(t *testing.T) {
	okta := mapping.User{UserName: "user000042@example.com", ExternalID: "00u00000000000000042", DisplayName: "User N000042", Active: true,
		Name:   mapping.Name{GivenName: "User", FamilyName: "N000042"},
		Emails: []mapping.Email{{Value: "user000042@example.com", Type: "work", Primary: true}}}
	entra := mapping.User{UserName: "Adele.Vance@contoso.onmicrosoft.com", ExternalID: "6c9b4e0b-2d3a-4d7e-9a5c-0f1e2d3c4b5a", DisplayName: "Adele Vance", Active: true,
		Name:   mapping.Name{GivenName: "Adele", FamilyName: "Vance", Formatted: "Adele Vance"},
		Emails: []mapping.Email{{Value: "adele.vance@contoso.com", Type: "work", Primary: true}}, Title: "Retail Manager", PreferredLanguage: "en-US"}
	tests := []struct {
		name  string
		u     mapping.User
		email string // the record's (Webflow) email
		// out are substrings the blob must not contain.
		out []string
	}{
		{"okta", okta, "user000042@example.com", []string{"user000042@example.com", "00u00000000000000042", "User N000042", `"name"`, `"emails"`}},
		{"entra", entra, "adele.vance@contoso.com", []string{"adele.vance@contoso.com", "6c9b4e0b", `"displayName"`}},
		{"email differs in case from the record's", func() mapping.User {
			u := okta
			u.Emails = []mapping.Email{{Value: "User000042@Example.com", Type: "work", Primary: true}}
			return u
		}(), "user000042@example.com", nil},
		{"several emails, one without a value", func() mapping.User {
			u := entra
			u.Emails = []mapping.Email{{Value: "adele@home.example", Type: "home"}, {Value: "adele.vance@contoso.com", Type: "work", Primary: true}, {Type: "other"}}
			return u
		}(), "adele.vance@contoso.com", nil},
		{"no email, no name, nothing optional", mapping.User{UserName: "bob", Active: false}, "bob", nil},
		{"empty emails list", mapping.User{UserName: "bob", Emails: []mapping.Email{}}, "bob", nil},
		{"unicode everywhere", mapping.User{UserName: "ÉMILE@exemple.fr", ExternalID: "ext-é", DisplayName: "Émile Zola 🖋", Active: true,
			Name:   mapping.Name{GivenName: "Émile", FamilyName: "Zola", MiddleName: "Édouard", HonorificPrefix: "M.", HonorificSuffix: "Ⅱ", Formatted: "M. Émile É. Zola Ⅱ"},
			Emails: []mapping.Email{{Value: "émile@exemple.fr", Primary: true}}, NickName: "Mimile", Locale: "fr-FR", Timezone: "Europe/Paris", UserType: "Écrivain"}, "émile@exemple.fr", nil},
		{"custom attributes and phones", func() mapping.User {
			u := okta
			u.PhoneNumbers = []mapping.PhoneNumber{{Value: "+1 555 0100", Type: "mobile", Primary: true}}
			u.Data = webflowdata.UserData{"accept-privacy": true, "favourite-colour": "teal", "score": 3.5, "tags": []any{"a", "b"}}
			return u
		}(), "user000042@example.com", nil},
		{"JSON-looking values", mapping.User{UserName: `{"n":1}`, ExternalID: `"x"`, DisplayName: `\u0000`, Emails: []mapping.Email{{Value: `{"v":""}`}}}, `{"v":""}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &state.UserRecord{ID: "wf-1", SiteID: "s", Active: tc.u.Active}
			FillRecord(rec, tc.u, tc.email, nil, time.Time{})
			if !strings.HasPrefix(string(rec.SCIM), scimFormat) {
				t.Fatalf("blob %s does not start with %s", rec.SCIM, scimFormat)
			}
			for _, s := range tc.out {
				if strings.Contains(string(rec.SCIM), s) {
					t.Errorf("blob %s repeats %s", rec.SCIM, s)
				}
			}
			want := tc.u
			if len(want.Emails) == 0 {
				want.Emails = nil // an empty list is not kept (nor was it before)
			}
			if got := decodeUser(rec); !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeUser:\n got %+v\nwant %+v\nblob %s", got, want, rec.SCIM)
			}
		})
	}
}

// TestSCIMBlobCoversNameAndEmail fails when mapping.Name or mapping.Email
// gains a field that the short-key blob would drop: every field is set
// through reflection and must come back.
func TestSCIMBlobCoversNameAndEmail(t *testing.T) {
	fill := func(v reflect.Value) {
		for i := range v.NumField() {
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				f.SetString(v.Type().Field(i).Name + "-value")
			case reflect.Bool:
				f.SetBool(true)
			default:
				t.Fatalf("%s.%s is a %s; teach encodeSCIM and decodeSCIM", v.Type(), v.Type().Field(i).Name, f.Kind())
			}
		}
	}
	var u mapping.User
	u.UserName = "u"
	fill(reflect.ValueOf(&u.Name).Elem())
	u.Emails = make([]mapping.Email, 1)
	fill(reflect.ValueOf(&u.Emails[0]).Elem())
	rec := &state.UserRecord{SCIM: encodeSCIM(u, &state.UserRecord{Email: "other"}), UserName: "u", Email: "other"}
	if got := decodeUser(rec); !reflect.DeepEqual(got, u) {
		t.Fatalf("decodeUser = %+v, want %+v (blob %s)", got, u, rec.SCIM)
	}
}

// TestSCIMBlobEarlierFormats: blobs of the earlier formats (mapping.User
// JSON, with or without userName) decode as they were stored, whatever the
// record holds next to them.
func TestSCIMBlobEarlierFormats(t *testing.T) {
	for _, tc := range []struct{ name, blob string }{
		{"without userName and active", `{"externalId":"ext-old","displayName":"Old Name","name":{"familyName":"N","givenName":"G"},"emails":[{"value":"old@x","type":"work","primary":true}],"data":{"k":"v"}}`},
		{"with userName and active", `{"userName":"bob","externalId":"ext-old","displayName":"Old Name","name":{"familyName":"N","givenName":"G"},"emails":[{"value":"old@x","type":"work","primary":true}],"active":true,"data":{"k":"v"}}`},
		{"only a name", `{"name":{"familyName":"N","givenName":"G"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &state.UserRecord{UserName: "bob", Email: "new@x", ExternalID: "ext-new", DisplayName: "New Name", SCIM: json.RawMessage(tc.blob)}
			var want mapping.User
			if err := json.Unmarshal([]byte(tc.blob), &want); err != nil {
				t.Fatal(err)
			}
			want.UserName, want.Active = "bob", false
			if got := decodeUser(rec); !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeUser = %+v, want %+v", got, want)
			}
		})
	}
}

// TestOktaRecordBytes: the record the bridge stores for a user as Okta
// sends it, with the blobs FillRecord writes, stays within the bound of
// state's TestOktaRecordSize (252 bytes: jemalloc's 256-byte class), and
// its blobs are the ones that test assumes.
func TestOktaRecordBytes(t *testing.T) {
	rdb, stop, err := state.NewEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	st := state.NewRedisStore(rdb, state.Options{})
	now := time.Date(2026, 12, 3, 9, 30, 0, 123456789, time.UTC)
	const site, id, email = "580e63e98c9a982ac9b8b741", "00000000000000000000002b", "user000042@example.com"
	wu := &webflowdata.User{ID: id, IsEmailVerified: true, Status: webflowdata.StatusVerified,
		CreatedOn: webflowdata.NewTime(now), LastUpdated: webflowdata.NewTime(now), AccessGroups: []webflowdata.AccessGroupRef{},
		Data: webflowdata.UserData{"email": email, "name": "User N000042", "accept-privacy": false, "accept-communications": false}}
	u := mapping.User{UserName: email, ExternalID: "00u00000000000000042", DisplayName: "User N000042", Active: true,
		Name: mapping.Name{GivenName: "User", FamilyName: "N000042"}, Emails: []mapping.Email{{Value: email, Type: "work", Primary: true}}}
	rec := &state.UserRecord{ID: id, SiteID: site, Active: true}
	FillRecord(rec, u, email, wu, now)
	if want := `{"n":{"l":"N000042","g":"User"},"e":[{"t":"work","p":true}]}`; string(rec.SCIM) != want {
		t.Errorf("SCIM blob %s, want %s", rec.SCIM, want)
	}
	if want := `{"f":1,"b":629,"c":1796290200123}`; string(rec.Webflow) != want {
		t.Errorf("Webflow snapshot %s, want %s", rec.Webflow, want)
	}
	if err := st.CreateUser(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	doc, err := rdb.HGet(t.Context(), st.Key(site, "users"), id).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) > 252 {
		t.Errorf("an Okta user's stored record is %d bytes, more than 252: %s", len(doc), doc)
	}
	got, err := st.GetUser(t.Context(), site, id)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(decodeUser(got), u) {
		t.Errorf("decodeUser = %+v, want %+v", decodeUser(got), u)
	}
	sameWebflowUser(t, decodeWebflow(got), wu)
}
