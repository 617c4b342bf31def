package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/domain"
	"github.com/gatehouse/gatehouse/store"
)

// Events and webhooks. The signing secret is in the answer of the create
// and rotate-secret calls only; a view never holds it.

// WebhookView is a subscription as the API shows it.
type WebhookView struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	EventTypes  []string  `json:"event_types"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// WebhookWithSecret is the answer of a create or a rotation: the view and
// the new secret, shown this once.
type WebhookWithSecret struct {
	WebhookView
	Secret string `json:"secret"`
}

func webhookView(w store.WebhookSubscription) WebhookView {
	return WebhookView{ID: w.ID, URL: w.URL, EventTypes: nonNil(w.EventTypes), Description: w.Description,
		Enabled: w.Enabled, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// WebhookDeliveryView is one row of a delivery log.
type WebhookDeliveryView struct {
	ID            int64      `json:"id"`
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	State         string     `json:"state"`
	Attempts      int        `json:"attempts"`
	LastStatus    int        `json:"last_status_code"`
	LastError     string     `json:"last_error"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	CreatedAt     time.Time  `json:"created_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	FailedAt      *time.Time `json:"failed_at"`
}

func webhookDeliveryView(d store.WebhookDelivery) WebhookDeliveryView {
	v := WebhookDeliveryView{ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: string(d.State),
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt}
	switch d.State {
	case store.WebhookPending:
		next := d.NextAttemptAt
		v.NextAttemptAt = &next
	case store.WebhookDelivered:
		v.DeliveredAt = d.FinishedAt
	case store.WebhookFailed:
		v.FailedAt = d.FinishedAt
	}
	return v
}

// webhookInput is the body of POST /webhooks.
type webhookInput struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
	Enabled     *bool    `json:"enabled"`
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	list, err := a.svc.ListWebhooks(r.Context())
	if err != nil {
		return err
	}
	views := make([]WebhookView, len(list))
	for i, s := range list {
		views[i] = webhookView(s)
	}
	writeJSON(w, http.StatusOK, pageInMemory(pg, views, func(v WebhookView) string { return v.ID }))
	return nil
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	var in webhookInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	sub, secret, err := a.svc.CreateWebhook(r.Context(), p.Actor, domain.WebhookInput{
		URL: in.URL, EventTypes: in.EventTypes, Description: in.Description, Enabled: in.Enabled,
	})
	if err != nil {
		return err
	}
	writeCreated(w, r, sub.ID, WebhookWithSecret{WebhookView: webhookView(sub), Secret: secret})
	return nil
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	sub, err := a.svc.GetWebhook(r.Context(), mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookView(sub))
	return nil
}

func (a *API) patchWebhook(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	m, err := decodeMergePatch(w, r)
	if err != nil {
		return err
	}
	f := newPatcher(m)
	patch := domain.WebhookPatch{
		URL:         f.str("url", false),
		EventTypes:  f.strings("event_types"),
		Description: f.str("description", true),
		Enabled:     f.boolean("enabled"),
	}
	f.readOnly("is read-only", "id", "created_at", "updated_at")
	f.readOnly("is generated: use POST /webhooks/{id}/rotate-secret", "secret")
	if err := f.done(); err != nil {
		return err
	}
	out, err := a.svc.UpdateWebhook(r.Context(), p.Actor, mux.Vars(r)["id"], patch)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookView(out))
	return nil
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	if err := a.svc.DeleteWebhook(r.Context(), p.Actor, mux.Vars(r)["id"]); err != nil {
		return err
	}
	noContent(w)
	return nil
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, p *domain.Principal) error {
	sub, secret, err := a.svc.RotateWebhookSecret(r.Context(), p.Actor, mux.Vars(r)["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, WebhookWithSecret{WebhookView: webhookView(sub), Secret: secret})
	return nil
}

func (a *API) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, _ *domain.Principal) error {
	pg, err := pageParams(r)
	if err != nil {
		return err
	}
	var before int64
	if pg.Cursor != "" {
		before, err = strconv.ParseInt(pg.Cursor, 10, 64)
		if err != nil || before <= 0 {
			return invalidField("cursor", "is not a cursor this API returned")
		}
	}
	list, err := a.svc.ListWebhookDeliveries(r.Context(), mux.Vars(r)["id"], before, pg.fetchLimit())
	if err != nil {
		return err
	}
	views := make([]WebhookDeliveryView, len(list))
	for i, d := range list {
		views[i] = webhookDeliveryView(d)
	}
	writeJSON(w, http.StatusOK, finish(pg, views, func(v WebhookDeliveryView) string { return strconv.FormatInt(v.ID, 10) }))
	return nil
}
