package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/server/b64url"
)

// cursors seals list positions into opaque, tamper-evident strings: base64url(JSON) + "." +
// base64url(HMAC-SHA256). The list's name is inside the MAC, so a cursor of one list is refused
// by another.
type cursors struct{ key []byte }

var errBadCursor = errors.New("bad cursor")

func newCursors(secret []byte) cursors {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("ecompointer/cursor/v1"))
	return cursors{key: mac.Sum(nil)}
}

func (c cursors) seal(list string, position any) (string, error) {
	payload, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString(payload)
	return enc + "." + base64.RawURLEncoding.EncodeToString(c.mac(list, enc)), nil
}

func (c cursors) open(list, cursor string, position any) error {
	enc, sig, ok := strings.Cut(cursor, ".")
	if !ok {
		return errBadCursor
	}
	// A cursor has one spelling (b64url.Decode refuses every other).
	got, err := b64url.Decode(sig)
	if err != nil || !hmac.Equal(got, c.mac(list, enc)) {
		return errBadCursor
	}
	payload, err := b64url.Decode(enc)
	if err != nil || json.Unmarshal(payload, position) != nil {
		return errBadCursor
	}
	return nil
}

func (c cursors) mac(list, enc string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(list))
	m.Write([]byte{0})
	m.Write([]byte(enc))
	return m.Sum(nil)
}

// page trims rows, fetched with limit+1, to limit, and seals the position of the page's last row
// as the next cursor (nil on the last page).
func page[T any](c cursors, list string, rows []T, limit int32, position func(T) any) ([]T, *string, error) {
	if len(rows) <= int(limit) {
		return rows, nil, nil
	}
	rows = rows[:limit]
	next, err := c.seal(list, position(rows[len(rows)-1]))
	if err != nil {
		return nil, nil, err
	}
	return rows, &next, nil
}

// idPosition is the keyset of the lists ordered by id alone (UUIDv7, so creation order): the last
// id of the page.
type idPosition struct {
	ID uuid.UUID `json:"i"`
}

// lastID is the position a list ordered by id resumes from.
func lastID(id uuid.UUID) any { return idPosition{ID: id} }

// resumeID opens a list's cursor, if any: nil when the request starts at the top, errBadCursor
// when the cursor is not one this server made for this list.
func (c cursors) resumeID(list string, cursor *string) (*uuid.UUID, error) {
	if cursor == nil {
		return nil, nil
	}
	var pos idPosition
	if err := c.open(list, *cursor, &pos); err != nil {
		return nil, err
	}
	return &pos.ID, nil
}
