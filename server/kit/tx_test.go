package kit

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/db"
)

type countingGate struct{ n atomic.Int32 }

// fakeTx is a transaction that is never used: any call panics.
type fakeTx struct{ pgx.Tx }

func (g *countingGate) Acquire(context.Context, uuid.UUID) (func(), error) {
	g.n.Add(1)
	return func() {}, nil
}

// TestInBrandJoinedDoesNotTakeTheGateAgain: a transaction's owner takes the brand's slot before
// its connection (GateBrand); InBrand inside that transaction must not wait for a second slot
// with the connection in hand, or a flood of one brand's requests could hold the whole pool while
// waiting for the brand. (The transaction itself is not reached: the test stops at the gate.)
func TestInBrandJoinedDoesNotTakeTheGateAgain(t *testing.T) {
	t.Parallel()
	g := &countingGate{}
	d := &Deps{Gate: g}
	release, err := d.GateBrand(context.Background(), uuid.New())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if got := g.n.Load(); got != 1 {
		t.Fatalf("GateBrand took %d slots, want 1", got)
	}
	joined := WithTx(context.Background(), fakeTx{})
	func() {
		defer func() { _ = recover() }() // the fake transaction cannot begin a savepoint
		_, _ = InBrand(joined, d, uuid.New(), func(*db.Queries) (int, error) { return 0, nil })
	}()
	if got := g.n.Load(); got != 1 {
		t.Errorf("InBrand inside a joined transaction took the gate again (%d slots)", got)
	}
}
