package kit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestBrandShareBoundsOneBrandNotTheOthers(t *testing.T) {
	t.Parallel()
	b := NewBrandShare(2, 50*time.Millisecond)
	ctx := context.Background()
	a, other := uuid.New(), uuid.New()

	r1, err := b.Acquire(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.Acquire(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := b.Acquire(ctx, a); !errors.Is(err, ErrBrandBusy) {
		t.Fatalf("third slot of a full brand: err = %v, want ErrBrandBusy", err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("waited %s for a full brand, want at least the 50ms wait", waited)
	}

	// Another brand is not behind brand a: while a is still full (a wait would end in
	// ErrBrandBusy), it gets a slot.
	r3, err := b.Acquire(ctx, other)
	if err != nil {
		t.Fatalf("other brand while brand a is full: %v", err)
	}

	// A slot given back goes to a waiter.
	got := make(chan error, 1)
	go func() {
		release, err := b.Acquire(ctx, a)
		if err == nil {
			release()
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	r1()
	r1() // a second call is harmless: it must not free a slot another request holds
	if err := <-got; err != nil {
		t.Fatalf("waiter after a release: %v", err)
	}
	r2()
	r3()
	if n := b.tracked(); n != 0 {
		t.Errorf("%d brands tracked after every slot was given back, want 0 (idle brands forgotten)", n)
	}
}

func TestBrandShareWaitEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	b := NewBrandShare(1, time.Minute)
	brand := uuid.New()
	release, err := b.Acquire(context.Background(), brand)
	if err != nil {
		t.Fatal(err)
	}
	defer release()

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if _, err := b.Acquire(ctx, brand); !errors.Is(err, ErrBrandBusy) {
			t.Errorf("err = %v, want ErrBrandBusy (the request's deadline bounds the wait)", err)
		}
	})
	t.Run("client gone", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := b.Acquire(ctx, brand); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
	if n := b.tracked(); n != 1 {
		t.Errorf("%d brands tracked, want 1 (the holder's); waiters that gave up must not linger", n)
	}
}

func TestBrandShareNeverExceedsTheLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	b := NewBrandShare(limit, 5*time.Second)
	brands := []uuid.UUID{uuid.New(), uuid.New()}
	var held [2]atomic.Int32
	var worst [2]atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			k := i % 2
			release, err := b.Acquire(context.Background(), brands[k])
			if err != nil {
				t.Error(err)
				return
			}
			n := held[k].Add(1)
			for {
				w := worst[k].Load()
				if n <= w || worst[k].CompareAndSwap(w, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			held[k].Add(-1)
			release()
		})
	}
	wg.Wait()
	for k := range brands {
		if w := worst[k].Load(); w != limit {
			t.Errorf("brand %d held at most %d slots at once, want exactly the limit %d", k, w, limit)
		}
	}
	if n := b.tracked(); n != 0 {
		t.Errorf("%d brands tracked when idle, want 0", n)
	}
}

func TestBrandShareOff(t *testing.T) {
	t.Parallel()
	b := NewBrandShare(-1, time.Millisecond)
	brand := uuid.New()
	for range 100 {
		if _, err := b.Acquire(context.Background(), brand); err != nil {
			t.Fatalf("no bound configured, yet: %v", err)
		}
	}
	if n := b.tracked(); n != 0 {
		t.Errorf("%d brands tracked with no bound", n)
	}
}
