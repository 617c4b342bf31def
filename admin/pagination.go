package admin

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"

	"github.com/gatehouse/gatehouse/domain"
)

const (
	defaultLimit = 50
	maxLimit     = 200
	// maxCursorLength is the base64url length of the longest key.
	maxCursorLength = (domain.MaxKeyBytes*8 + 5) / 6
)

// List is the shape of every list response. NextCursor is "" on the last
// page; otherwise pass it back as ?cursor= for the next one.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// page is a request's limit and decoded cursor ("" for the first page).
type page struct {
	Limit  int
	Cursor string
}

// pageParams reads ?limit= and ?cursor=. Cursors are opaque to clients:
// base64url of the keyset value of the last item returned.
func pageParams(r *http.Request) (page, error) {
	q := r.URL.Query()
	p := page{Limit: defaultLimit}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			return page{}, invalidField("limit", "must be an integer from 1 to 200")
		}
		p.Limit = n
	}
	if s := q.Get("cursor"); s != "" {
		// A cursor is the key of a listed item, which ValidKey bounds; a
		// longer one, or one that decodes to bytes no key holds, is made up.
		b, err := base64.RawURLEncoding.DecodeString(s)
		if len(s) > maxCursorLength || err != nil || len(b) == 0 || !domain.ValidKey(string(b)) {
			return page{}, invalidField("cursor", "is not a cursor this API returned")
		}
		p.Cursor = string(b)
	}
	return p, nil
}

func encodeCursor(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// fetchLimit is how many items to ask a keyset query for: one more than the
// page, to learn whether another page follows, within the domain's cap.
func (p page) fetchLimit() int { return min(p.Limit+1, maxLimit) }

// finish cuts items to the page and sets the cursor from the last item's
// key. When the domain's cap kept the extra item out, a full page is
// assumed to have a successor (which may turn out empty).
func finish[T any](p page, items []T, key func(T) string) List[T] {
	out := List[T]{Items: items}
	more := len(items) > p.Limit || (len(items) == p.Limit && p.fetchLimit() == p.Limit)
	if len(items) > p.Limit {
		out.Items = items[:p.Limit]
	}
	if more && len(out.Items) > 0 {
		out.NextCursor = encodeCursor(key(out.Items[len(out.Items)-1]))
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return out
}

// pageInMemory pages a complete list by a unique key: the items whose key
// sorts after the cursor, in key order.
func pageInMemory[T any](p page, items []T, key func(T) string) List[T] {
	sorted := make([]T, len(items))
	copy(sorted, items)
	sort.SliceStable(sorted, func(i, j int) bool { return key(sorted[i]) < key(sorted[j]) })
	start := 0
	if p.Cursor != "" {
		start = sort.Search(len(sorted), func(i int) bool { return key(sorted[i]) > p.Cursor })
	}
	rest := sorted[start:]
	out := List[T]{Items: rest}
	if len(rest) > p.Limit {
		out.Items = rest[:p.Limit]
		out.NextCursor = encodeCursor(key(out.Items[len(out.Items)-1]))
	}
	if out.Items == nil {
		out.Items = []T{}
	}
	return out
}
