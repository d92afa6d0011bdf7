package servertest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
)

// Helpers that read the event feed (GET /brands/{brandId}/events): the events tests, and the
// fixtures that need an event id.

// FeedEvent is an event of the feed as a test reads it: the envelope, and data left raw.
type FeedEvent struct {
	ID         uuid.UUID          `json:"id"`
	Type       api.EventType      `json:"type"`
	BrandID    uuid.UUID          `json:"brandId"`
	Aggregate  api.EventAggregate `json:"aggregate"`
	Data       json.RawMessage    `json:"data"`
	OccurredAt string             `json:"occurredAt"`
}

// DecodeEvent reads the envelope of e, whatever its type.
func DecodeEvent(t testing.TB, e api.Event) FeedEvent {
	t.Helper()
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var out FeedEvent
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// FeedPage asks brand's feed once with token and returns its events and where it continues.
func (e *Env) FeedPage(t testing.TB, token string, brand uuid.UUID, params api.ListEventsParams) ([]FeedEvent, string) {
	t.Helper()
	resp, err := e.Client.ListEventsWithResponse(context.Background(), brand, &params, Bearer(token))
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("list events = %d %s", resp.StatusCode(), resp.Body)
	}
	out := make([]FeedEvent, len(resp.JSON200.Items))
	for i, ev := range resp.JSON200.Items {
		out[i] = DecodeEvent(t, ev)
	}
	return out, resp.JSON200.NextCursor
}

// FeedN reads the feed from params' cursor until it has served at least n events, and returns
// them all and where the feed continues. An event is served once every transaction older than its
// own has ended, anywhere in the cluster (other tests' included), so it is waited for, not
// expected on the first read.
func (e *Env) FeedN(t testing.TB, token string, brand uuid.UUID, params api.ListEventsParams, n int) ([]FeedEvent, string) {
	t.Helper()
	var all []FeedEvent
	var next string
	for deadline := time.Now().Add(time.Minute); ; {
		var page []FeedEvent
		page, next = e.FeedPage(t, token, brand, params)
		all = append(all, page...)
		params.Cursor = &next
		if len(page) == 0 {
			if len(all) >= n {
				return all, next
			}
			if time.Now().After(deadline) {
				t.Fatalf("the feed served %d events in a minute, want %d: %v", len(all), n, EventTypes(all))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// FeedAll is FeedN from the feed's start.
func (e *Env) FeedAll(t testing.TB, token string, brand uuid.UUID, params api.ListEventsParams, n int) []FeedEvent {
	t.Helper()
	all, _ := e.FeedN(t, token, brand, params, n)
	return all
}

// EventTypes lists the types of es, in order.
func EventTypes(es []FeedEvent) []api.EventType {
	out := make([]api.EventType, len(es))
	for i, e := range es {
		out[i] = e.Type
	}
	return out
}
