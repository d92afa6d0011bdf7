package kit

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
)

// ErrBrandBusy means the brand already holds its whole share of the database pool and no slot
// freed in time: the client gets a 503 `brand_busy` with Retry-After, not a 500.
var ErrBrandBusy = errors.New("the brand's share of the database pool is busy")

// BrandBusyRetryAfter is the Retry-After (seconds) of a `brand_busy` answer: the slots a brand
// holds are short transactions, so one second is enough for some to free.
const BrandBusyRetryAfter = 1

// DefaultBrandShareWait is how long a brand-scoped request waits for one of its brand's slots
// unless configured otherwise.
const DefaultBrandShareWait = 2 * time.Second

// BrandShare is the Gate the server runs with: it bounds how many pool connections one brand's
// requests may hold at once, so that one tenant flooding expensive requests cannot take every
// connection and starve the others (they would queue behind it in the pool, readiness included).
// Each brand has its own counting semaphore; a brand's entry lives only while a request holds or waits for one of its slots, so
// memory follows the number of busy brands, not the number of brands ever seen.
type BrandShare struct {
	limit int
	wait  time.Duration

	mu     sync.Mutex
	brands map[uuid.UUID]*brandSlots
}

type brandSlots struct {
	sem  chan struct{} // a buffered slot per connection the brand may hold
	refs int           // requests holding or waiting for a slot; guarded by BrandShare.mu
}

// NewBrandShare lets each brand hold limit slots; a request waits at most wait for one (and
// never longer than its own context allows). limit < 1 turns the bound off.
func NewBrandShare(limit int, wait time.Duration) *BrandShare {
	if wait <= 0 {
		wait = DefaultBrandShareWait
	}
	return &BrandShare{limit: limit, wait: wait, brands: map[uuid.UUID]*brandSlots{}}
}

// Acquire takes one of brand's slots and returns the function that gives it back (call it
// exactly once). It fails with ErrBrandBusy when no slot frees within the wait, or with the
// context's error when the request ends first.
func (b *BrandShare) Acquire(ctx context.Context, brand uuid.UUID) (func(), error) {
	if b == nil || b.limit < 1 {
		return func() {}, nil
	}
	b.mu.Lock()
	e := b.brands[brand]
	if e == nil {
		e = &brandSlots{sem: make(chan struct{}, b.limit)}
		b.brands[brand] = e
	}
	e.refs++
	b.mu.Unlock()

	// The fast path takes a free slot without arming a timer.
	select {
	case e.sem <- struct{}{}:
		return b.releaser(brand, e), nil
	default:
	}
	timer := time.NewTimer(b.wait)
	defer timer.Stop()
	select {
	case e.sem <- struct{}{}:
		return b.releaser(brand, e), nil
	case <-ctx.Done():
		b.leave(brand, e)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ErrBrandBusy
		}
		return nil, ctx.Err()
	case <-timer.C:
		b.leave(brand, e)
		return nil, ErrBrandBusy
	}
}

func (b *BrandShare) releaser(brand uuid.UUID, e *brandSlots) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-e.sem
			b.leave(brand, e)
		})
	}
}

// leave drops a request's reference and forgets the brand once nothing holds or waits for it.
func (b *BrandShare) leave(brand uuid.UUID, e *brandSlots) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.refs--
	if e.refs == 0 && b.brands[brand] == e {
		delete(b.brands, brand)
	}
}

// tracked is how many brands have an entry (tests check idle brands are forgotten).
func (b *BrandShare) tracked() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.brands)
}
