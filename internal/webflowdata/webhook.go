package webflowdata

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"time"
)

// Webhook delivery headers.
const (
	HeaderWebhookTimestamp = "x-webflow-timestamp"
	HeaderWebhookSignature = "x-webflow-signature"
)

// WebhookReplayWindow is how old a delivery may be before it is refused.
const WebhookReplayWindow = 5 * time.Minute

// SignWebhook computes hex(HMAC-SHA256(key, timestamp + ":" + body)), the
// signature Webflow sends in x-webflow-signature. timestamp is Unix ms.
func SignWebhook(key []byte, timestampMS string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(timestampMS))
	m.Write([]byte(":"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors from VerifyWebhook.
var (
	ErrWebhookSignature = errors.New("webflow webhook: bad signature")
	ErrWebhookStale     = errors.New("webflow webhook: timestamp outside the 5-minute window")
)

// VerifyWebhook checks a delivery over its raw body bytes, in constant time,
// and enforces the replay window against now.
func VerifyWebhook(key []byte, timestampMS, signature string, body []byte, now time.Time) error {
	ms, err := strconv.ParseInt(timestampMS, 10, 64)
	if err != nil {
		return ErrWebhookStale
	}
	age := now.Sub(time.UnixMilli(ms))
	if age > WebhookReplayWindow || age < -WebhookReplayWindow {
		return ErrWebhookStale
	}
	want := SignWebhook(key, timestampMS, body)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrWebhookSignature
	}
	return nil
}
