package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/webflowscim/bridge/internal/config"
)

func TestSecretFilesAndConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	wfTok := write("wf", "wf-secret-from-file\n")
	scimToks := write("scim", "# one per line\nscim-one-0123456789abcdef0123456789\n\nscim-two-0123456789abcdef0123456789\n")
	cfgPath := write("bridge.yaml", `
redis: {url: "redis://:hunter2@127.0.0.1:6379/0"}
sites:
  - id: 580e63e98c9a982ac9b8b741
    webflowTokenFile: `+wfTok+`
    scimTokensFile: `+scimToks+`
`)
	cfg, _, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sites[0].WebflowToken != "wf-secret-from-file" || strings.Join(cfg.Sites[0].SCIMTokens, ",") != "scim-one-0123456789abcdef0123456789,scim-two-0123456789abcdef0123456789" {
		t.Errorf("secrets from files: %+v", cfg.Sites[0])
	}
	var out, errb bytes.Buffer
	if err := runConfig(context.Background(), []string{"check", "--config", cfgPath}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"wf-secret-from-file", "scim-one", "scim-two", "hunter2"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("config check printed a secret: %s", out.String())
		}
	}
	for _, want := range []string{"is valid", "rateLimitPerMinute: 60", "maxWait: 20s", "580e63e98c9a982ac9b8b741"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check lacks %q:\n%s", want, out.String())
		}
	}
	both := write("both.yaml", "sites:\n  - id: a\n    webflowToken: x\n    webflowTokenFile: "+wfTok+"\n    scimTokens: [y]\n")
	if err := runConfig(context.Background(), []string{"check", "--config", both}, &out, &errb); err == nil || !strings.Contains(err.Error(), "sites[0].webflowToken and sites[0].webflowTokenFile") {
		t.Errorf("a secret given twice: %v", err)
	}
	missing := write("missing.yaml", "sites:\n  - id: a\n    webflowTokenFile: /nonexistent\n    scimTokens: [y]\n")
	if err := runConfig(context.Background(), []string{"check", "--config", missing}, &out, &errb); err == nil || !strings.Contains(err.Error(), "webflowTokenFile") {
		t.Errorf("a missing file: %v", err)
	}
}

func TestHealthcheckCommand(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ok.Close()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer bad.Close()
	if err := runHealthcheck(context.Background(), []string{"--url", ok.URL}, nil, &bytes.Buffer{}); err != nil {
		t.Errorf("healthy: %v", err)
	}
	if err := runHealthcheck(context.Background(), []string{"--url", bad.URL}, nil, &bytes.Buffer{}); err == nil {
		t.Error("503 must be unhealthy")
	}
	if code := run([]string{"healthcheck", "--url", "http://127.0.0.1:1/healthz", "--timeout", "200ms"}, &bytes.Buffer{}, &bytes.Buffer{}); code == 0 {
		t.Error("an unreachable bridge must exit non-zero")
	}
}

func writeCert(t *testing.T, certPath, keyPath, cn string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// The certificate is reloaded when its files change, without a restart.
func TestTLSReload(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCert(t, cert, key, "first")
	r, err := newCertReloader(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	// As serve does: an http.Server whose TLSConfig only has GetCertificate.
	srv := newHTTPServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	go serveHTTP(ctx, srv, discardLogger(), time.Second, func(a string) { addrc <- a })
	url := "https://" + <-addrc
	served := func() string {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		res, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.TLS.PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "first" {
		t.Fatalf("served %s", cn)
	}
	time.Sleep(10 * time.Millisecond)
	writeCert(t, cert, key, "second")
	future := time.Now().Add(2 * time.Second)
	os.Chtimes(cert, future, future)
	os.Chtimes(key, future, future)
	time.Sleep(1100 * time.Millisecond) // the reloader checks at most once a second
	if cn := served(); cn != "second" {
		t.Errorf("after renewal served %s", cn)
	}
	if _, err := newCertReloader(filepath.Join(dir, "none.crt"), key); err == nil {
		t.Error("a missing certificate must fail at start-up")
	}
}
