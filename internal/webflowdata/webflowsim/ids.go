package webflowsim

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// idGen makes Mongo-style ObjectIds (what Webflow uses for every id) and
// UUIDs (what the SCIM endpoint hands out). A random process part keeps
// ids from two simulators apart; a counter keeps them unique and ordered.
type idGen struct {
	proc    [5]byte
	counter atomic.Uint32
}

func newIDGen() *idGen {
	g := &idGen{}
	_, _ = rand.Read(g.proc[:])
	var c [4]byte
	_, _ = rand.Read(c[:])
	g.counter.Store(binary.BigEndian.Uint32(c[:]) & 0xffff)
	return g
}

// objectID returns a 24-hex id: 4 bytes of time, 5 random, 3 counter.
func (g *idGen) objectID(now time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(now.Unix()))
	copy(b[4:9], g.proc[:])
	c := g.counter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// uuid returns a random RFC 4122 version-4 UUID.
func (g *idGen) uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// secret returns a random hex secret (webhook secretKey).
func (g *idGen) secret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// isObjectID reports a 24-hex lowercase id.
func isObjectID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
