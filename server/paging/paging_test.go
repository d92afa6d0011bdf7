package paging

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/server/problem"
)

func TestCursorsAreTamperEvident(t *testing.T) {
	t.Parallel()
	c := NewCursors([]byte("a secret of at least thirty-two bytes"), nil)
	type pos struct{ N int }
	s, err := c.Seal("list", pos{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	var got pos
	if err := c.Open("list", s, &got); err != nil || got.N != 7 {
		t.Fatalf("open = %v %+v", err, got)
	}
	for name, bad := range map[string]string{
		"other list": s,
		"flipped":    s[:2] + string(s[2]^1) + s[3:],
		"no mac":     strings.Split(s, ".")[0],
		"empty":      "",
	} {
		list := "list"
		if name == "other list" {
			list = "other"
		}
		if err := c.Open(list, bad, &got); err == nil {
			t.Errorf("%s cursor accepted", name)
		}
	}
	other := NewCursors([]byte("another secret of at least 32 bytes"), nil)
	if err := other.Open("list", s, &got); err == nil {
		t.Error("a cursor of another server's key accepted")
	}
}

// TestCursorsAcrossASecretRotation: after the secret is rotated (the old one kept as previous), a
// cursor sealed before still opens, new ones are sealed under the new secret only, and once the
// previous secret is dropped the old cursor is refused.
func TestCursorsAcrossASecretRotation(t *testing.T) {
	t.Parallel()
	oldSecret := []byte("the old secret, at least thirty-two bytes")
	newSecret := []byte("the new secret, at least thirty-two bytes")
	type pos struct{ N int }
	before, err := NewCursors(oldSecret, nil).Seal("list", pos{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	rotating := NewCursors(newSecret, oldSecret)
	var got pos
	if err := rotating.Open("list", before, &got); err != nil || got.N != 1 {
		t.Fatalf("a cursor sealed before the rotation: open = %v %+v", err, got)
	}
	after, err := rotating.Seal("list", pos{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := NewCursors(oldSecret, nil).Open("list", after, &got); err == nil {
		t.Error("a cursor sealed after the rotation opens under the old secret: it was sealed with it")
	}
	rotated := NewCursors(newSecret, nil)
	if err := rotated.Open("list", after, &got); err != nil || got.N != 2 {
		t.Fatalf("a cursor sealed after the rotation: open = %v %+v", err, got)
	}
	if err := rotated.Open("list", before, &got); err == nil {
		t.Error("with the previous secret dropped, a cursor sealed under it still opens")
	}
	if err := rotating.Open("other", before, &got); err == nil {
		t.Error("the previous key opens another list's cursor")
	}
}

// TestBadCursorIsARefusal: a list handler returns ErrBadCursor as it is; it reads as a 400 naming
// the cursor.
func TestBadCursorIsARefusal(t *testing.T) {
	t.Parallel()
	var refusal *problem.Error
	if !errors.As(ErrBadCursor, &refusal) {
		t.Fatal("ErrBadCursor is not a refusal")
	}
	p := refusal.Problem(context.Background())
	if p.Status != 400 || p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Field != "query.cursor" {
		t.Errorf("ErrBadCursor reads as %+v", p)
	}
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// FuzzCursorOpen feeds the cursor parser any string a client may send as `cursor`: it never
// panics, a sealed cursor opens to its position, and whatever opens is exactly a cursor this
// server sealed for that list (no second spelling of one, no cursor of another list).
func FuzzCursorOpen(f *testing.F) {
	c := NewCursors([]byte("fuzz-secret-0123456789abcdef0123456789"), nil)
	sealed, err := c.Seal("products", IDPosition{ID: uuid.MustParse("0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a6")})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{sealed, "", ".", "a.b", sealed + "x", strings.Replace(sealed, ".", "..", 1), "eyJpIjoiMCJ9.AAAA"} {
		f.Add("products", seed)
	}
	f.Add("members", sealed)
	// The signature's last character with its unused low bits set: the same bytes, spelt twice.
	last := strings.IndexByte(base64URL, sealed[len(sealed)-1])
	f.Add("products", sealed[:len(sealed)-1]+string(base64URL[last|3]))
	f.Fuzz(func(t *testing.T, list, cursor string) {
		var pos IDPosition
		if err := c.Open(list, cursor, &pos); err != nil {
			if err != ErrBadCursor { //nolint:errorlint // Open returns the sentinel itself
				t.Fatalf("open = %v, want ErrBadCursor", err)
			}
			return
		}
		again, err := c.Seal(list, pos)
		if err != nil {
			t.Fatal(err)
		}
		if again != cursor {
			t.Fatalf("cursor %q opened, but this server seals that position as %q", cursor, again)
		}
		var back IDPosition
		if err := c.Open(list, again, &back); err != nil || back != pos {
			t.Fatalf("round trip: %v, %v != %v", err, back, pos)
		}
	})
}

// TestCursorsSealConcurrently: the keyed HMAC states are pooled and shared by every request; each
// goroutine's cursors must still open to its own positions, and only under their own list.
func TestCursorsSealConcurrently(t *testing.T) {
	t.Parallel()
	c := NewCursors([]byte("a secret of at least thirty-two bytes"), []byte("the previous secret, also 32 bytes"))
	type pos struct{ G, N int }
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			list := "list-" + strconv.Itoa(g)
			for n := range 200 {
				s, err := c.Seal(list, pos{G: g, N: n})
				if err != nil {
					errs <- err
					return
				}
				var got pos
				if err := c.Open(list, s, &got); err != nil || got != (pos{G: g, N: n}) {
					errs <- fmt.Errorf("goroutine %d, cursor %d: open = %w %+v", g, n, err, got)
					return
				}
				if err := c.Open(list+"x", s, &got); err == nil {
					errs <- fmt.Errorf("goroutine %d, cursor %d opened under another list", g, n)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
