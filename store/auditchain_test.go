package store_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store"
)

// TestAuditCanonical pins version 1 of the encoding: a change to it must
// be a new version, since it would break every stored chain.
func TestAuditCanonical(t *testing.T) {
	e := store.AuditEntry{
		ID: 7, At: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC),
		ActorType: store.ActorUser, ActorID: "u<1>", Action: "user.update", TargetType: "user",
		TargetID: "t", IPAddress: "2001:db8::1", Act: "cli",
		Changes: json.RawMessage(` {"b": {"before": 1.50, "after": 100}, "a": [true, null, "x", -0, 12345678901234567890, 1E-3], "a": 2}`),
	}
	got, err := store.AuditCanonical(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `[1,7,1767323045000006,"user","u<1>","user.update","user","t","2001:db8::1","cli",{"a":2,"b":{"after":1e2,"before":15e-1}}]`
	if string(got) != want {
		t.Errorf("canonical =\n%s\nwant\n%s", got, want)
	}
	// Spellings jsonb reads back differently encode the same.
	e2 := e
	e2.Changes = json.RawMessage(`{"a":2,"b":{"after":1e2,"before":1.5}}`)
	got2, _ := store.AuditCanonical(e2)
	if !bytes.Equal(got, got2) {
		t.Errorf("respelled changes encode differently:\n%s\n%s", got, got2)
	}
	for lit, want := range map[string]string{"0": "0", "-0.0": "0", "10": "1e1", "0.0100": "1e-2", "-12.5e3": "-125e2", "12345678901234567891": "12345678901234567891"} {
		e.Changes = json.RawMessage(`[` + lit + `]`)
		c, err := store.AuditCanonical(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(c, []byte(`,[`+want+`]]`)) {
			t.Errorf("%s encodes as %s, want [%s]", lit, c, want)
		}
	}
	e.Changes = json.RawMessage(`[1e99999999999]`)
	if _, err := store.AuditCanonical(e); err == nil {
		t.Error("an exponent out of range encoded")
	}
	e.Changes = nil
	d0, _ := store.AuditDigest(nil, e)
	d1, _ := store.AuditDigest(make([]byte, 32), e)
	if !bytes.Equal(d0, d1) || len(d0) != 32 {
		t.Errorf("first digest %x, with zero prev %x", d0, d1)
	}
	d2, _ := store.AuditDigest(d0, e)
	if bytes.Equal(d0, d2) {
		t.Error("the previous digest does not change the digest")
	}
	// SHA-256(32 zero bytes || canonical): pinned, as the encoding is.
	if h := hex.EncodeToString(d0); h != "e317b1310ece3f7f36caabac2d9f34bbeab9c1e9e39c1249e97f08e4af48c768" {
		t.Errorf("digest of the fixed entry = %s", h)
	}
}

type chain struct {
	head    store.AuditChainHead
	entries []store.AuditEntry
	// stale, when set, is the head the first read returns: one read
	// before the entries after it were appended.
	stale *store.AuditChainHead
}

func (c *chain) AuditChainHead(context.Context) (store.AuditChainHead, error) {
	if c.stale != nil {
		h := *c.stale
		c.stale = nil
		return h, nil
	}
	return c.head, nil
}
func (c *chain) ListAuditChain(_ context.Context, after int64, limit int) ([]store.AuditEntry, error) {
	var out []store.AuditEntry
	for _, e := range c.entries {
		if e.ID > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// TestVerifyAuditChain: every kind of break is reported at its entry,
// whatever the batch size.
func TestVerifyAuditChain(t *testing.T) {
	build := func(first, last int64) chain {
		c := chain{head: store.AuditChainHead{FirstID: first, LastID: first - 1}}
		for id := int64(1); id < first; id++ {
			c.entries = append(c.entries, store.AuditEntry{ID: id, Action: "old"})
		}
		for id := first; id <= last; id++ {
			e := store.AuditEntry{ID: id, At: time.Unix(id, 0), Action: "a", Changes: json.RawMessage(`{"n":1}`)}
			d, err := store.AuditDigest(c.head.Digest, e)
			if err != nil {
				t.Fatal(err)
			}
			e.Digest = d
			c.entries = append(c.entries, e)
			c.head.LastID, c.head.Digest = id, d
		}
		return c
	}
	for _, batch := range []int{1, 3, 100} {
		ok := build(4, 12)
		v, err := store.VerifyAuditChain(context.Background(), &ok, batch)
		if err != nil || v.Break != nil || v.Checked != 9 || v.Unchained != 3 || v.Head != hex.EncodeToString(ok.head.Digest) {
			t.Errorf("batch %d: intact chain: %+v, %v", batch, v, err)
		}
		for name, tc := range map[string]struct {
			tamper func(c *chain)
			want   store.AuditBreak
		}{
			"edit":          {func(c *chain) { c.entries[6].Action = "b" }, store.AuditBreak{ID: 7, Reason: store.AuditBreakDigest}},
			"edit changes":  {func(c *chain) { c.entries[6].Changes = json.RawMessage(`{"n":2}`) }, store.AuditBreak{ID: 7, Reason: store.AuditBreakDigest}},
			"delete":        {func(c *chain) { c.entries = append(c.entries[:6:6], c.entries[7:]...) }, store.AuditBreak{ID: 7, Reason: store.AuditBreakMissing}},
			"delete first":  {func(c *chain) { c.entries = append(c.entries[:3:3], c.entries[4:]...) }, store.AuditBreak{ID: 4, Reason: store.AuditBreakMissing}},
			"delete last":   {func(c *chain) { c.entries = c.entries[:11] }, store.AuditBreak{ID: 12, Reason: store.AuditBreakMissing}},
			"insert after":  {func(c *chain) { c.entries = append(c.entries[:12:12], store.AuditEntry{ID: 13, Digest: []byte("x")}) }, store.AuditBreak{ID: 13, Reason: store.AuditBreakAfter}},
			"no digest":     {func(c *chain) { c.entries[9].Digest = nil }, store.AuditBreak{ID: 10, Reason: store.AuditBreakNoDigest}},
			"head moved":    {func(c *chain) { c.head.Digest = []byte("x") }, store.AuditBreak{ID: 12, Reason: store.AuditBreakHead}},
			"legacy digest": {func(c *chain) { c.entries[1].Digest = []byte("x") }, store.AuditBreak{ID: 2, Reason: store.AuditBreakBefore}},
		} {
			c := build(4, 12)
			tc.tamper(&c)
			v, err := store.VerifyAuditChain(context.Background(), &c, batch)
			if err != nil || v.Break == nil || *v.Break != tc.want {
				t.Errorf("batch %d, %s: %+v (break %+v), %v; want break %+v", batch, name, v, v.Break, err, tc.want)
			}
		}
	}
	// Entries appended while verify runs are not insertions.
	for _, batch := range []int{1, 3, 100} {
		live := build(4, 12)
		stale := build(4, 9).head
		live.stale = &stale
		v, err := store.VerifyAuditChain(context.Background(), &live, batch)
		if err != nil || v.Break != nil || v.Checked != 9 {
			t.Errorf("batch %d: appends during verify: %+v (break %+v), %v", batch, v, v.Break, err)
		}
		// An insertion is still one when the head was stale.
		forged := build(4, 12)
		forged.entries = append(forged.entries, store.AuditEntry{ID: 13})
		stale = build(4, 9).head
		forged.stale = &stale
		v, err = store.VerifyAuditChain(context.Background(), &forged, batch)
		if err != nil || v.Break == nil || *v.Break != (store.AuditBreak{ID: 13, Reason: store.AuditBreakAfter}) {
			t.Errorf("batch %d: insertion behind a stale head: %+v (break %+v), %v", batch, v, v.Break, err)
		}
	}
	empty, err := store.VerifyAuditChain(context.Background(), &chain{head: store.AuditChainHead{FirstID: 1}}, 10)
	if err != nil || empty.Break != nil || empty.Checked != 0 {
		t.Errorf("empty log: %+v, %v", empty, err)
	}
}
