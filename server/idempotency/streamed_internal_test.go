package idempotency

import "testing"

// TestStreamedOperations: the upload is found from its generated signature, and a keyed JSON
// operation or an action without a body is not (those skip spool, which once panicked on them).
func TestStreamedOperations(t *testing.T) {
	got := streamedOperations(map[string]Mode{
		"createimport": Required, "createorder": Required, "submitpurchaseorder": Optional, "createstockadjustment": Optional,
	})
	want := map[string]bool{"createimport": true}
	if len(got) != len(want) || !got["createimport"] {
		t.Errorf("streamed operations %v, want %v", got, want)
	}
}
