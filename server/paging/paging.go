// Package paging is the keyset paging every list shares: opaque, tamper-evident cursors and the
// skeleton that resumes from one, fetches a page and seals the next.
package paging

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/server/b64url"
	"github.com/ecompointer/ecompointer/server/problem"
)

// Cursors seals list positions into opaque, tamper-evident strings: base64url(JSON) + "." +
// base64url(HMAC-SHA256). The list's name is inside the MAC, so a cursor of one list is refused
// by another. Make them with NewCursors: the zero value has no key (Seal and Open would panic).
type Cursors struct {
	key      *macs
	previous *macs // opens cursors sealed before a secret rotation; nil when none
}

// ErrBadCursor refuses a cursor this server did not issue for this list: a handler returns it as
// it is (a 400 naming query.cursor).
var ErrBadCursor error = problem.RefuseField("query.cursor", "is not a cursor of this list")

// NewCursors derives the cursor key from secret. A cursor sealed under previous (the secret a
// rotation replaces; nil when none) still opens, so a client paging, or an event consumer polling
// from a stored cursor, is not refused because the operator rotated the secret.
func NewCursors(secret, previous []byte) Cursors {
	c := Cursors{key: newMACs(cursorKey(secret))}
	if len(previous) > 0 {
		c.previous = newMACs(cursorKey(previous))
	}
	return c
}

// macs hands out HMAC-SHA256 states already keyed: hmac.New costs five allocations and the
// key's two SHA-256 blocks, and every page of every list but the last seals a cursor.
type macs struct{ pool sync.Pool }

func newMACs(key []byte) *macs {
	m := &macs{}
	m.pool.New = func() any { return hmac.New(sha256.New, key) }
	return m
}

// sum is the MAC of enc as a cursor of list.
func (m *macs) sum(list, enc string) []byte {
	h := m.pool.Get().(hash.Hash)
	defer m.pool.Put(h)
	h.Reset() // back to the keyed state
	_, _ = io.WriteString(h, list)
	_, _ = h.Write([]byte{0})
	_, _ = io.WriteString(h, enc)
	return h.Sum(nil)
}

func cursorKey(secret []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("ecompointer/cursor/v1"))
	return mac.Sum(nil)
}

// Seal makes the cursor of position in list.
func (c Cursors) Seal(list string, position any) (string, error) {
	payload, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	enc := b64url.Encode(payload)
	return enc + "." + b64url.Encode(c.key.sum(list, enc)), nil
}

// Open reads a cursor of list into position, or answers ErrBadCursor.
func (c Cursors) Open(list, cursor string, position any) error {
	enc, sig, ok := strings.Cut(cursor, ".")
	if !ok {
		return ErrBadCursor
	}
	got, err := b64url.Decode(sig)
	if err != nil || (!hmac.Equal(got, c.key.sum(list, enc)) && (c.previous == nil || !hmac.Equal(got, c.previous.sum(list, enc)))) {
		return ErrBadCursor
	}
	payload, err := b64url.Decode(enc)
	if err != nil || json.Unmarshal(payload, position) != nil {
		return ErrBadCursor
	}
	return nil
}

// PageSize is the validated `limit` parameter, or the default page size.
func PageSize(limit *int) int32 {
	if limit == nil {
		return 20
	}
	return int32(*limit) //nolint:gosec // the spec bounds it to 1..100
}

// Page is one page of a keyset list.
type Page[Item any] struct {
	Items []Item
	Next  *string
}

// List owns the keyset skeleton every list shares: it resumes from the cursor (ErrBadCursor when
// the cursor is not this list's), fetches limit+1 rows, keeps limit, seals the last row's position
// as the next cursor (nil on the last page) and maps the rows. A handler gives it only the query,
// the position of a row and the mapping.
func List[Row, Pos, Item any](c Cursors, list string, cursor *string, limit *int,
	fetch func(after *Pos, limit int32) ([]Row, error),
	position func(Row) Pos,
	item func(Row) (Item, error),
) (Page[Item], error) {
	var after *Pos
	if cursor != nil {
		after = new(Pos)
		if err := c.Open(list, *cursor, after); err != nil {
			return Page[Item]{}, err
		}
	}
	size := PageSize(limit)
	rows, err := fetch(after, size+1)
	if err != nil {
		return Page[Item]{}, err
	}
	var next *string
	if len(rows) > int(size) {
		rows = rows[:size]
		n, err := c.Seal(list, position(rows[len(rows)-1]))
		if err != nil {
			return Page[Item]{}, err
		}
		next = &n
	}
	out := Page[Item]{Items: make([]Item, 0, len(rows)), Next: next}
	for _, r := range rows {
		it, err := item(r)
		if err != nil {
			return Page[Item]{}, err
		}
		out.Items = append(out.Items, it)
	}
	return out, nil
}

// IDPosition is the keyset of the lists ordered by id alone (UUIDv7, so creation order): the last
// id of the page.
type IDPosition struct {
	ID uuid.UUID `json:"i"`
}

// After is the id a list resumes after: nil on the first page.
func (p *IDPosition) After() *uuid.UUID {
	if p == nil {
		return nil
	}
	return &p.ID
}

// ByID lists rows ordered by their id: it is List with IDPosition as the position.
func ByID[Row, Item any](c Cursors, list string, cursor *string, limit *int,
	fetch func(after *uuid.UUID, limit int32) ([]Row, error),
	id func(Row) uuid.UUID,
	item func(Row) (Item, error),
) (Page[Item], error) {
	return List(c, list, cursor, limit,
		func(after *IDPosition, limit int32) ([]Row, error) { return fetch(after.After(), limit) },
		func(r Row) IDPosition { return IDPosition{ID: id(r)} },
		item)
}

// Infallible adapts a mapping that cannot fail to the item mapping List takes.
func Infallible[Row, Item any](f func(Row) Item) func(Row) (Item, error) {
	return func(r Row) (Item, error) { return f(r), nil }
}
