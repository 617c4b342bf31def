package domain

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse/gatehouse/store"
)

// This file holds events and webhooks: every audit entry is also an event,
// and subscriptions receive the events whose action matches one of their
// event types, delivered by webhooks.Worker from the outbox the audit path
// fills (enqueueEvent, in the audited change's transaction).

// TargetWebhook is the audit target type of subscriptions.
const TargetWebhook = "webhook"

// WebhookOptions configure the enqueueing of events.
type WebhookOptions struct {
	// MaxPending bounds the deliveries waiting (webhooks.max_pending;
	// default DefaultWebhookMaxPending). Past it an event's deliveries are
	// dropped, logged and counted: an audited change never fails or waits
	// because receivers are down.
	MaxPending int
	// Recorder counts the dropped deliveries (nil: nobody).
	Recorder WebhookRecorder
}

// WebhookRecorder is told of deliveries dropped for the bound
// (telemetry.WebhookMetrics).
type WebhookRecorder interface {
	WebhookDropped(n int)
}

// DefaultWebhookMaxPending is WebhookOptions.MaxPending's default.
const DefaultWebhookMaxPending = 10000

// WebhookSecretPrefix starts every signing secret (the Standard Webhooks
// format: whsec_ and the base64 of the key's bytes).
const WebhookSecretPrefix = "whsec_"

const (
	webhookSecretBytes   = 32
	maxWebhookURLLength  = 2000
	maxWebhookEventTypes = 50
)

// WebhookEventTypes are the audit actions a subscription may name; a
// pattern "x.*" must be the prefix of one of them. A feature that audits a
// new action adds it here.
func WebhookEventTypes() []string {
	return []string{
		"access_request.approve", "access_request.create", "access_request.deny",
		"client.create", "client.delete", "client.register", "client.update",
		"consent.revoke",
		"email.verification_send", "email.verify",
		"group.create", "group.delete", "group.member.add", "group.member.remove", "group.update",
		"identity.link", "identity.unlink",
		"identity_provider.create", "identity_provider.delete", "identity_provider.update",
		"impersonation.start",
		"login.failure", "login.success", "logout",
		"mfa.disabled", "mfa.enrolled", "mfa.failed", "mfa.passkey", "mfa.passkey.failure",
		"mfa.recovery_code_used", "mfa.reset",
		"passkey.registered", "passkey.removed",
		"password.reset", "password.reset_link", "password.reset_request", "password.reset_send",
		"role.create", "role.delete", "role.update",
		"session.evicted", "session.revoke", "session.revoke_all",
		"signin.passkey", "signin.passkey.failure", "signin.refused_address",
		"token.create", "token.revoke",
		"user.create", "user.delete", "user.disable", "user.ip_rules", "user.lock", "user.password",
		"user.roles", "user.status", "user.update",
		// Events and webhooks.
		"webhook.create", "webhook.delete", "webhook.rotate_secret", "webhook.update",
		// Areas, permissions, profile fields and bulk import (the rest of
		// the directory).
		"area.create", "area.delete", "area.member.add", "area.member.remove", "area.move",
		"area.role.grant", "area.role.revoke", "area.update", "user.default_area",
		"permission.create", "permission.delete", "permission.update",
		"user.denied_permissions", "user.role.expire",
		"login.break_glass", "user.import",
	}
}

// checkEventType says what is wrong with t as a subscription's event type,
// "" if nothing: "*", a known action, or "prefix.*" where some known
// action begins with "prefix.".
func checkEventType(t string) string {
	known := WebhookEventTypes()
	switch {
	case t == "*" || slices.Contains(known, t):
		return ""
	case strings.HasSuffix(t, ".*") && len(t) > 2 && !strings.Contains(t[:len(t)-2], "*"):
		prefix := t[:len(t)-1]
		if slices.ContainsFunc(known, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
			return ""
		}
	}
	return "is not a known event type or pattern (an audit action such as user.create, a pattern such as user.*, or *)"
}

// WebhookInput is a new subscription.
type WebhookInput struct {
	URL         string
	EventTypes  []string
	Description string
	Enabled     *bool // nil: enabled
}

// WebhookPatch changes the fields that are not nil.
type WebhookPatch struct {
	URL         *string
	EventTypes  *[]string
	Description *string
	Enabled     *bool
}

func (s *Service) checkWebhook(w *store.WebhookSubscription) error {
	var v problems
	switch {
	case w.URL == "":
		v.add("url", "is required")
	case len(w.URL) > maxWebhookURLLength:
		v.add("url", "must be at most %d characters", maxWebhookURLLength)
	default:
		// The rule of back-channel logout URIs: we POST to it.
		if msg := CheckLogoutURI(w.URL); msg != "" {
			v.add("url", "%s", msg)
		}
	}
	switch {
	case len(w.EventTypes) == 0:
		v.add("event_types", "must name at least one event type (* for every event)")
	case len(w.EventTypes) > maxWebhookEventTypes:
		v.add("event_types", "must name at most %d event types", maxWebhookEventTypes)
	default:
		for i, t := range w.EventTypes {
			if msg := checkEventType(t); msg != "" {
				v.add(fmt.Sprintf("event_types[%d]", i), "%q %s", truncateText(t, 100), msg)
			}
		}
		w.EventTypes = slices.Compact(slices.Sorted(slices.Values(w.EventTypes)))
	}
	w.Description = v.checkText("description", w.Description, maxDescriptionLength, true)
	return v.err()
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

func webhookFields(w store.WebhookSubscription) fields {
	return fields{"url": w.URL, "event_types": auditList(w.EventTypes), "description": w.Description, "enabled": w.Enabled}
}

// newWebhookSecret returns a fresh signing secret: whsec_ and the standard
// base64 of 32 random bytes.
func newWebhookSecret() (string, error) {
	b := make([]byte, webhookSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("domain: webhook secret: %w", err)
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// webhookSecretAD is the additional data of a sealed secret: a secret
// copied onto another subscription's row does not open.
func webhookSecretAD(id string) string { return "webhook:" + id }

func (s *Service) webhookBox() (*secretBox, error) {
	if s.webhookSecrets == nil {
		return nil, errors.New("domain: no webhook key configured (Options.WebhookKey)")
	}
	return s.webhookSecrets, nil
}

// sealWebhookSecret makes a new secret for w, seals it on w and returns it
// (to be shown once).
func (s *Service) sealWebhookSecret(w *store.WebhookSubscription) (string, error) {
	box, err := s.webhookBox()
	if err != nil {
		return "", err
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return "", err
	}
	sealed, err := box.seal(webhookSecretAD(w.ID), []byte(secret))
	if err != nil {
		return "", err
	}
	w.SecretEnc = sealed
	return secret, nil
}

// WebhookSigningKey opens the subscription's secret and returns the key
// its signatures are made with (the decoded bytes after whsec_), for the
// delivery worker only: never show or log it.
func (s *Service) WebhookSigningKey(w store.WebhookSubscription) ([]byte, error) {
	box, err := s.webhookBox()
	if err != nil {
		return nil, err
	}
	b, err := box.open(webhookSecretAD(w.ID), w.SecretEnc)
	if err != nil {
		return nil, fmt.Errorf("domain: webhook %s: secret: %w", w.ID, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(string(b), WebhookSecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("domain: webhook %s: secret: not base64", w.ID)
	}
	return key, nil
}

// CreateWebhook validates and stores a subscription with a new secret
// ("webhook.create", without the secret), and returns it with the secret,
// which is never shown again.
func (s *Service) CreateWebhook(ctx context.Context, a Actor, in WebhookInput) (store.WebhookSubscription, string, error) {
	w := store.WebhookSubscription{ID: uuid.NewString(), URL: strings.TrimSpace(in.URL), EventTypes: slices.Clone(in.EventTypes),
		Description: in.Description, Enabled: in.Enabled == nil || *in.Enabled}
	if err := s.checkWebhook(&w); err != nil {
		return store.WebhookSubscription{}, "", err
	}
	secret, err := s.sealWebhookSecret(&w)
	if err != nil {
		return store.WebhookSubscription{}, "", err
	}
	now := s.now()
	w.CreatedAt, w.UpdatedAt = now, now
	defer s.webhookWritten(w.ID)
	err = s.inTx(ctx, "create webhook", func(ctx context.Context) error {
		s.webhooks.InvalidateAll() // the subscription's own event sees it
		if err := s.store.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return s.audit(ctx, a, "webhook.create", TargetWebhook, w.ID, onCreate(webhookFields(w)))
	})
	if err != nil {
		return store.WebhookSubscription{}, "", err
	}
	out, err := s.GetWebhook(ctx, w.ID)
	return out, secret, err
}

// GetWebhook returns a not-found error if absent.
func (s *Service) GetWebhook(ctx context.Context, id string) (store.WebhookSubscription, error) {
	w, err := s.store.GetWebhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.WebhookSubscription{}, notFound("webhook %q not found", truncateText(id, 64))
	}
	if err != nil {
		return store.WebhookSubscription{}, fmt.Errorf("domain: get webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks returns every subscription, by id.
func (s *Service) ListWebhooks(ctx context.Context) ([]store.WebhookSubscription, error) {
	out, err := s.store.ListWebhooks(ctx)
	if err != nil {
		return nil, fmt.Errorf("domain: list webhooks: %w", err)
	}
	return out, nil
}

// UpdateWebhook applies patch ("webhook.update").
func (s *Service) UpdateWebhook(ctx context.Context, a Actor, id string, patch WebhookPatch) (store.WebhookSubscription, error) {
	var out store.WebhookSubscription
	defer s.webhookWritten(id)
	err := s.inTx(ctx, "update webhook", func(ctx context.Context) error {
		s.webhooks.InvalidateAll()
		cur, err := s.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		w := cur
		if patch.URL != nil {
			w.URL = strings.TrimSpace(*patch.URL)
		}
		if patch.EventTypes != nil {
			w.EventTypes = slices.Clone(*patch.EventTypes)
		}
		setIf(&w.Description, patch.Description)
		setIf(&w.Enabled, patch.Enabled)
		if err := s.checkWebhook(&w); err != nil {
			return err
		}
		c := diff(webhookFields(cur), webhookFields(w))
		if len(c) == 0 {
			out = cur
			return nil
		}
		w.UpdatedAt = s.now()
		if err := s.store.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		out = w
		return s.audit(ctx, a, "webhook.update", TargetWebhook, w.ID, c)
	})
	return out, err
}

// RotateWebhookSecret replaces the subscription's secret and returns the
// new one, shown once ("webhook.rotate_secret", recorded as changed only).
// Deliveries not yet made are signed with the new secret.
func (s *Service) RotateWebhookSecret(ctx context.Context, a Actor, id string) (store.WebhookSubscription, string, error) {
	var out store.WebhookSubscription
	var secret string
	defer s.webhookWritten(id)
	err := s.inTx(ctx, "rotate webhook secret", func(ctx context.Context) error {
		s.webhooks.InvalidateAll()
		w, err := s.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		if secret, err = s.sealWebhookSecret(&w); err != nil {
			return err
		}
		w.UpdatedAt = s.now()
		if err := s.store.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		out = w
		return s.audit(ctx, a, "webhook.rotate_secret", TargetWebhook, w.ID, changes{"secret": {After: "changed"}})
	})
	if err != nil {
		return store.WebhookSubscription{}, "", err
	}
	return out, secret, nil
}

// DeleteWebhook removes a subscription and its delivery log
// ("webhook.delete").
func (s *Service) DeleteWebhook(ctx context.Context, a Actor, id string) error {
	defer s.webhookWritten(id)
	return s.inTx(ctx, "delete webhook", func(ctx context.Context) error {
		s.webhooks.InvalidateAll()
		cur, err := s.GetWebhook(ctx, id)
		if err != nil {
			return err
		}
		if err := s.store.DeleteWebhook(ctx, cur.ID); err != nil {
			return err
		}
		return s.audit(ctx, a, "webhook.delete", TargetWebhook, cur.ID, onRemove(webhookFields(cur)))
	})
}

const maxWebhookDeliveryLimit = 200

// ListWebhookDeliveries returns a page of the subscription's delivery log,
// newest first: before is the last id of the previous page (0: the first
// page); limit is capped at 200.
func (s *Service) ListWebhookDeliveries(ctx context.Context, id string, before int64, limit int) ([]store.WebhookDelivery, error) {
	if _, err := s.GetWebhook(ctx, id); err != nil {
		return nil, err
	}
	out, err := s.store.ListWebhookDeliveries(ctx, id, before, capLimit(limit, maxWebhookDeliveryLimit))
	if err != nil {
		return nil, fmt.Errorf("domain: list webhook deliveries: %w", err)
	}
	return out, nil
}

// WebhookPayload is the body of a delivery (Standard Webhooks): the event
// type, when it happened, and the audit entry as data.
type WebhookPayload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      WebhookData `json:"data"`
}

// WebhookData is the audit entry an event carries: its changes are the
// audit log's, already free of secrets.
type WebhookData struct {
	AuditID int64           `json:"audit_id"`
	Action  string          `json:"action"`
	Actor   WebhookRef      `json:"actor"`
	Act     string          `json:"act,omitempty"`
	Target  WebhookRef      `json:"target"`
	Changes json.RawMessage `json:"changes,omitempty"`
	IP      string          `json:"ip,omitempty"`
}

// WebhookRef names an actor or a target.
type WebhookRef struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// webhookWritten is deferred by every write of a subscription: whatever
// the cache loaded inside the write's transaction, committed or rolled back,
// is dropped, here and (OnChange) in this process's other caches.
func (s *Service) webhookWritten(id string) { s.changed(store.ChangeWebhook, id) }

// webhookTargets reports whether any subscription is enabled, from the
// cache unless the change feed is down. A stale yes costs one statement
// that queues nothing; a stale no would lose events, so every write of a
// subscription drops the cache inside its own transaction (the write's own
// event then sees it) and again once committed, and other instances' writes
// reach it through the change feed (ChangeWebhook).
func (s *Service) webhookTargets(ctx context.Context) (bool, error) {
	load := func() (bool, error) {
		all, err := s.store.ListWebhooks(ctx)
		if err != nil {
			return false, fmt.Errorf("list webhooks: %w", err)
		}
		return slices.ContainsFunc(all, func(w store.WebhookSubscription) bool { return w.Enabled }), nil
	}
	if s.webhooksUnheard.Load() {
		return load()
	}
	return s.webhooks.Get(struct{}{}, load)
}

// enqueueEvent queues the deliveries of the audit entry e (id auditID) to
// the subscriptions it matches, in the caller's transaction: they exist if
// and only if the change is committed. A full outbox drops them (logged,
// counted); the change goes on.
func (s *Service) enqueueEvent(ctx context.Context, auditID int64, e store.AuditEntry) error {
	if any, err := s.webhookTargets(ctx); err != nil || !any {
		return err
	}
	body, err := json.Marshal(WebhookPayload{Type: e.Action, Timestamp: e.At.UTC(), Data: WebhookData{
		AuditID: auditID, Action: e.Action, Actor: WebhookRef{Type: string(e.ActorType), ID: e.ActorID}, Act: e.Act,
		Target: WebhookRef{Type: e.TargetType, ID: e.TargetID}, Changes: e.Changes, IP: e.IPAddress,
	}})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, dropped, err := s.store.EnqueueWebhookEvent(ctx, store.WebhookEvent{
		ID: "evt_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Type: e.Action,
		Patterns: store.WebhookPatterns(e.Action), Payload: body, At: e.At,
	}, s.opts.Webhooks.MaxPending)
	if err != nil {
		return fmt.Errorf("enqueue event: %w", err)
	}
	if dropped > 0 {
		s.opts.Logger.WarnContext(ctx, "webhook deliveries dropped: the outbox is full",
			"action", e.Action, "audit_id", auditID, "dropped", dropped, "max_pending", s.opts.Webhooks.MaxPending)
		if s.opts.Webhooks.Recorder != nil {
			s.opts.Webhooks.Recorder.WebhookDropped(dropped)
		}
	}
	return nil
}
