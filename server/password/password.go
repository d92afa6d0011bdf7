// Package password hashes and checks passwords: bcrypt at a configurable cost, the length limits
// bcrypt imposes, and a list of the most common passwords that are refused outright.
package password

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"runtime"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/ecompointer/ecompointer/server/observe"
)

// MinBytes and MaxBytes bound a password. bcrypt reads at most 72 bytes; longer passwords are
// refused rather than silently truncated (two passwords sharing 72 bytes would both match).
const (
	MinBytes = 8
	MaxBytes = 72
)

// ErrPolicy is wrapped by every policy failure.
var ErrPolicy = errors.New("password policy")

// PolicyError says why a password is refused, in words fit for the client.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrPolicy) true.
func (e *PolicyError) Unwrap() error { return ErrPolicy }

//go:embed common-passwords.txt
var commonList []byte

var common = func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	sc := bufio.NewScanner(bytes.NewReader(commonList))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[line] = struct{}{}
	}
	return set
}()

// CommonCount is the number of refused common passwords.
func CommonCount() int { return len(common) }

// Check applies the policy: 8..72 bytes, not one of the 10,000 most common passwords (compared
// case-insensitively, so "Password1" counts as "password1").
func Check(pw string) error {
	switch n := len(pw); {
	case n < MinBytes:
		return &PolicyError{Reason: "must be at least 8 bytes long"}
	case n > MaxBytes:
		return &PolicyError{Reason: "must be at most 72 bytes long (bcrypt's limit; multi-byte characters count by their bytes)"}
	}
	if _, ok := common[strings.ToLower(pw)]; ok {
		return &PolicyError{Reason: "is one of the 10,000 most common passwords; choose another"}
	}
	return nil
}

// Hasher hashes with bcrypt at a fixed cost. It runs at most one bcrypt computation per CPU at a
// time and queues the rest in arrival order: under a burst of logins, each one then gets a whole
// core and finishes in a quarter of a second, instead of all of them sharing the cores and
// finishing together, late, after their clients gave up. A request whose client is gone leaves
// the queue without spending any CPU.
type Hasher struct {
	cost  int
	dummy []byte
	slots chan struct{}
}

// NewHasher returns a Hasher for cost (bcrypt.MinCost..bcrypt.MaxCost).
func NewHasher(cost int) (*Hasher, error) {
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, errors.New("bcrypt cost out of range")
	}
	// A hash of a random-looking string at the same cost, compared against when the account
	// does not exist, so that an unknown email costs as much time as a wrong password.
	dummy, err := bcrypt.GenerateFromPassword([]byte("dummy password for timing equality"), cost)
	if err != nil {
		return nil, err
	}
	return &Hasher{cost: cost, dummy: dummy, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}, nil
}

// acquire waits for a free core, or for ctx to end.
func (h *Hasher) acquire(ctx context.Context) error {
	defer observe.BcryptQueued()()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash hashes pw.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	ctx, span := observe.Start(ctx, "bcrypt.hash")
	defer span.End()
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	return string(b), err
}

// Verify reports whether pw matches hash, and whether hash was made at another cost and should be
// replaced now that the password is known. It fails only when ctx ends while it waits its turn.
func (h *Hasher) Verify(ctx context.Context, hash, pw string) (ok, rehash bool, err error) {
	ctx, span := observe.Start(ctx, "bcrypt.verify")
	defer span.End()
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
		return false, false, nil
	}
	cost, err := bcrypt.Cost([]byte(hash))
	return true, err != nil || cost != h.cost, nil
}

// VerifyNobody spends the time of one Verify and always fails.
func (h *Hasher) VerifyNobody(ctx context.Context, pw string) error {
	_, _, err := h.Verify(ctx, string(h.dummy), pw)
	return err
}
