package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// The audit log is a hash chain: every entry carries
//
//	digest = SHA-256(previous digest || canonical encoding of the entry)
//
// where the previous digest is the one of the entry with the id before
// (32 zero bytes for the first entry of the chain). Ids of chained entries
// have no gaps: an entry takes the id after the chain head's, under a lock,
// and a rolled-back append rolls the head back too. So an edited entry no
// longer matches its digest, a deleted one leaves a gap in the ids, and an
// entry inserted after the head is past the head's id.
//
// The canonical encoding (version 1) is the compact JSON array
//
//	[1, id, at, actor_type, actor_id, action, target_type, target_id,
//	 ip_address, act, changes]
//
// with id and at (microseconds since the Unix epoch, UTC: what PostgreSQL
// keeps of a time) as JSON integers, the strings as JSON strings (UTF-8,
// no HTML escaping), and changes as null when absent, else canonical JSON:
// objects with their keys sorted by bytes and no duplicates (the last one
// wins, as in jsonb), no insignificant white space, numbers as their exact
// value in the form <digits>e<exponent> with no leading or trailing zero
// digits ("0" for zero; 1.50 is 15e-1, 100 is 1e2). That form is what
// PostgreSQL's jsonb and a Go store both read back the same, whatever
// spelling the writer used, so both stores give identical digests.
//
// The digest is a plain hash, not a keyed one: whoever can rewrite the
// table and recompute every later digest can hide an edit. Record the
// head digest (`gatehouse audit verify` prints it) somewhere the database's
// administrators cannot write, and an edit before it is always detected.

// AuditChainVersion is the version of the canonical encoding, its first
// element.
const AuditChainVersion = 1

// AuditDigestSize is the size of a digest: SHA-256.
const AuditDigestSize = sha256.Size

// AuditChainHead is where the chain stands.
type AuditChainHead struct {
	// FirstID is the id of the first chained entry; earlier entries were
	// written before the chain existed (migration 00012) and have no digest.
	FirstID int64
	// LastID is the id of the newest chained entry, FirstID-1 if none.
	LastID int64
	// Digest is the newest entry's digest, nil if none.
	Digest []byte
}

// AuditChain reads the chain for verification.
type AuditChain interface {
	// AuditChainHead returns the head. Not an error on an empty log.
	AuditChainHead(ctx context.Context) (AuditChainHead, error)
	// ListAuditChain returns at most limit entries with an id above after,
	// oldest first, with their digests (nil for entries older than the chain).
	ListAuditChain(ctx context.Context, after int64, limit int) ([]AuditEntry, error)
}

// AuditDigest returns the digest of e following prev (nil or empty for the
// first entry of a chain). It fails only if e.Changes is not JSON or holds a
// number too large to encode.
func AuditDigest(prev []byte, e AuditEntry) ([]byte, error) {
	enc, err := AuditCanonical(e)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if len(prev) == 0 {
		prev = make([]byte, AuditDigestSize)
	}
	h.Write(prev)
	h.Write(enc)
	return h.Sum(nil), nil
}

// AuditCanonical is the canonical encoding of e (see the package comment
// above AuditChainVersion): AuditCanonicalPrefix(e.ID) followed by
// AuditCanonicalRest(e).
func AuditCanonical(e AuditEntry) ([]byte, error) {
	rest, err := AuditCanonicalRest(e)
	if err != nil {
		return nil, err
	}
	return append([]byte(AuditCanonicalPrefix(e.ID)), rest...), nil
}

// AuditCanonicalPrefix is the start of the encoding, the part that depends
// on the id: `[1,<id>,`. Split off so that a store which assigns the id in
// the database can finish the digest there: PostgreSQL computes
// sha256(prev || prefix || rest) in the statement that moves the head.
func AuditCanonicalPrefix(id int64) string {
	return "[" + strconv.Itoa(AuditChainVersion) + "," + strconv.FormatInt(id, 10) + ","
}

// AuditCanonicalRest is the encoding after AuditCanonicalPrefix: every field
// but the id, and the closing bracket.
func AuditCanonicalRest(e AuditEntry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(strconv.FormatInt(e.At.UnixMicro(), 10))
	for _, s := range []string{string(e.ActorType), e.ActorID, e.Action, e.TargetType, e.TargetID, e.IPAddress, e.Act} {
		b.WriteByte(',')
		writeJSONString(&b, s)
	}
	b.WriteByte(',')
	if t := bytes.TrimSpace(e.Changes); len(t) == 0 {
		b.WriteString("null")
	} else {
		d := json.NewDecoder(bytes.NewReader(t))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("store: audit digest: changes: %w", err)
		}
		if d.More() {
			return nil, errors.New("store: audit digest: changes: trailing data")
		}
		if err := writeCanonical(&b, v); err != nil {
			return nil, fmt.Errorf("store: audit digest: changes: %w", err)
		}
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s)         // a string always encodes
	b.Truncate(b.Len() - 1) // Encode's newline
}

func writeCanonical(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		writeJSONString(b, v)
	case json.Number:
		n, err := canonicalNumber(string(v))
		if err != nil {
			return err
		}
		b.WriteString(n)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, x); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			if err := writeCanonical(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("unexpected JSON value %T", v)
	}
	return nil
}

// maxExponent bounds a canonical number's exponent; PostgreSQL's numeric
// refuses far smaller ones, so no stored entry comes near it.
const maxExponent = 1 << 30

// canonicalNumber rewrites a JSON number literal as [-]<digits>e<exp> with
// no leading or trailing zeros in digits, or "0": exact, without parsing
// the value into a float that would round it.
func canonicalNumber(lit string) (string, error) {
	neg := strings.HasPrefix(lit, "-")
	lit = strings.TrimPrefix(lit, "-")
	mant, expPart, hasExp := strings.Cut(strings.ToLower(lit), "e")
	exp := int64(0)
	if hasExp {
		x, err := strconv.ParseInt(strings.TrimPrefix(expPart, "+"), 10, 64)
		if err != nil || x > maxExponent || x < -maxExponent {
			return "", fmt.Errorf("number %q out of range", lit)
		}
		exp = x
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	exp -= int64(len(frac))
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0", nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	out := trimmed
	if exp != 0 {
		out += "e" + strconv.FormatInt(exp, 10)
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}

// AuditBreak is where a chain is broken.
type AuditBreak struct {
	// ID is the entry the break is at: the edited or inserted entry, or
	// the missing (deleted) entry's id.
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
}

// Reasons a chain breaks.
const (
	AuditBreakDigest   = "digest does not match the entry (edited or inserted)"
	AuditBreakMissing  = "entry missing (deleted)"
	AuditBreakNoDigest = "entry has no digest"
	AuditBreakAfter    = "entry after the chain head (inserted)"
	AuditBreakHead     = "chain head does not match the newest entry"
	AuditBreakBefore   = "entry older than the chain carries a digest"
)

// AuditVerification is what VerifyAuditChain found.
type AuditVerification struct {
	// Checked counts the chained entries whose digest was checked;
	// Unchained the older entries, written before the chain began.
	Checked   int64 `json:"checked"`
	Unchained int64 `json:"unchained"`
	// Head is the newest entry's digest (hex), to be recorded elsewhere.
	Head  string      `json:"head,omitempty"`
	Break *AuditBreak `json:"break,omitempty"`
}

// VerifyAuditChain walks the whole log oldest first, batch entries at a
// time, recomputing every digest; it stops at the first break. Only a
// failure to read is an error. It may run while entries are appended: it
// reads the head again when it meets an entry past the one it read, and
// at the end, so that what was appended meanwhile is neither an insertion
// nor a deletion.
func VerifyAuditChain(ctx context.Context, c AuditChain, batch int) (AuditVerification, error) {
	var v AuditVerification
	if batch < 1 {
		batch = 500
	}
	head, err := c.AuditChainHead(ctx)
	if err != nil {
		return v, fmt.Errorf("store: verify audit chain: %w", err)
	}
	prevID, prev := head.FirstID-1, []byte(nil)
	after := int64(0)
	for {
		es, err := c.ListAuditChain(ctx, after, batch)
		if err != nil {
			return v, fmt.Errorf("store: verify audit chain: %w", err)
		}
		if len(es) == 0 {
			// The end as this listing saw it. Entries appended meanwhile
			// are not missing: read the head, then list once more. Every
			// entry up to a head read before a listing is in that listing
			// (the head moves in the statement that appends), so if the
			// second listing is empty too, the head it follows is the one
			// the chain must end at.
			if head, err = c.AuditChainHead(ctx); err != nil {
				return v, fmt.Errorf("store: verify audit chain: %w", err)
			}
			if es, err = c.ListAuditChain(ctx, after, batch); err != nil {
				return v, fmt.Errorf("store: verify audit chain: %w", err)
			}
			if len(es) == 0 {
				break
			}
		}
		for _, e := range es {
			after = e.ID
			if e.ID > head.LastID && e.ID >= head.FirstID {
				// Appended since the head was read, or inserted behind
				// its back: an append moves the head in the statement
				// that inserts the entry, so a head read now covers
				// every entry that was appended.
				h, err := c.AuditChainHead(ctx)
				if err != nil {
					return v, fmt.Errorf("store: verify audit chain: %w", err)
				}
				if h.FirstID == head.FirstID && h.LastID >= e.ID {
					head = h
				}
			}
			switch {
			case e.ID < head.FirstID:
				if e.Digest != nil {
					v.Break = &AuditBreak{e.ID, AuditBreakBefore}
					return v, nil
				}
				v.Unchained++
				continue
			case e.ID > head.LastID:
				if prevID < head.LastID {
					v.Break = &AuditBreak{prevID + 1, AuditBreakMissing}
				} else {
					v.Break = &AuditBreak{e.ID, AuditBreakAfter}
				}
				return v, nil
			case e.ID != prevID+1:
				v.Break = &AuditBreak{prevID + 1, AuditBreakMissing}
				return v, nil
			case e.Digest == nil:
				v.Break = &AuditBreak{e.ID, AuditBreakNoDigest}
				return v, nil
			}
			d, err := AuditDigest(prev, e)
			if err != nil || !bytes.Equal(d, e.Digest) {
				v.Break = &AuditBreak{e.ID, AuditBreakDigest}
				return v, nil
			}
			prevID, prev = e.ID, e.Digest
			v.Checked++
		}
	}
	if prevID < head.LastID {
		v.Break = &AuditBreak{prevID + 1, AuditBreakMissing}
		return v, nil
	}
	if !bytes.Equal(prev, head.Digest) {
		v.Break = &AuditBreak{head.LastID, AuditBreakHead}
		return v, nil
	}
	if prev != nil {
		v.Head = fmt.Sprintf("%x", prev)
	}
	return v, nil
}
