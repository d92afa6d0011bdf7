package webhooks

import (
	"errors"
	"fmt"
	"testing"

	"github.com/riverqueue/river"

	"github.com/ecompointer/ecompointer/server/kit"
)

// A busy brand's share (kit.ErrBrandBusy, however wrapped) is a snooze of the job, not a failed
// attempt; every other error stays an attempt's failure, and success stays success.
func TestBusyBrandIsNotAnAttempt(t *testing.T) {
	t.Parallel()
	other := errors.New("connection refused")
	var snooze *river.JobSnoozeError
	if err := notAnAttempt(fmt.Errorf("fan-out: %w", kit.ErrBrandBusy)); !errors.As(err, &snooze) || snooze.Duration != 0 {
		t.Errorf("busy brand = %v, want a snooze of 0", err)
	}
	if err := notAnAttempt(other); err != other { //nolint:errorlint // the very error, unwrapped
		t.Errorf("other error = %v, want it as it was", err)
	}
	if err := notAnAttempt(nil); err != nil {
		t.Errorf("success = %v", err)
	}
}
