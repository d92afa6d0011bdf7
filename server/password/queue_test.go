package password

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestAWaitingHashGivesUpWithItsClient: with every core busy, a verification whose client is gone
// leaves the queue at once instead of waiting to burn a quarter second of CPU for nobody.
func TestAWaitingHashGivesUpWithItsClient(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(4)
	if err != nil {
		t.Fatal(err)
	}
	for range cap(h.slots) {
		h.slots <- struct{}{} // every core busy
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = h.Verify(ctx, string(h.dummy), "x")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Verify with every slot busy = %v, want the context's error", err)
	}
	if waited := time.Since(start); waited > 10*time.Second { // the 50ms context, not a core, ended it
		t.Errorf("gave up after %s", waited)
	}
	<-h.slots // a core frees up: the next one runs
	if ok, _, err := h.Verify(context.Background(), string(h.dummy), "dummy password for timing equality"); err != nil || !ok {
		t.Errorf("Verify with a free slot = %v, %v", ok, err)
	}
}
