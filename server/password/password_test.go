package password_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ecompointer/ecompointer/server/password"
)

func TestPolicy(t *testing.T) {
	t.Parallel()
	if n := password.CommonCount(); n < 9900 || n > 10000 {
		t.Errorf("%d common passwords loaded, want about 10,000", n)
	}
	refused := []string{"short", "password", "Password", "PASSWORD1", "iloveyou", "qwertyuiop", strings.Repeat("é", 37)}
	for _, pw := range refused {
		if err := password.Check(pw); !errors.Is(err, password.ErrPolicy) {
			t.Errorf("%q accepted", pw)
		}
	}
	accepted := []string{"a fine test passphrase", strings.Repeat("é", 36), strings.Repeat("x", 72)}
	for _, pw := range accepted {
		if err := password.Check(pw); err != nil {
			t.Errorf("%q refused: %v", pw, err)
		}
	}
}

func TestVerifyAndRehash(t *testing.T) {
	t.Parallel()
	h4, err := password.NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	h5, err := password.NewHasher(5)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h4.Hash(context.Background(), "a fine test passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, _ := h4.Verify(context.Background(), hash, "a fine test passphrase"); !ok || rehash {
		t.Errorf("same cost: ok=%v rehash=%v", ok, rehash)
	}
	if ok, rehash, _ := h5.Verify(context.Background(), hash, "a fine test passphrase"); !ok || !rehash {
		t.Errorf("new cost: ok=%v rehash=%v, want a rehash", ok, rehash)
	}
	if ok, _, _ := h4.Verify(context.Background(), hash, "a fine test passphrasE"); ok {
		t.Error("wrong password accepted")
	}
	if _, err := password.NewHasher(3); err == nil {
		t.Error("cost 3 accepted")
	}
}

func BenchmarkHashCost12(b *testing.B) {
	h, err := password.NewHasher(12)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "a fine test passphrase"); err != nil {
			b.Fatal(err)
		}
	}
}
