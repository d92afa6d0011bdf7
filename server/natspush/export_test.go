package natspush

import (
	"context"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ecompointer/ecompointer/server/kit"
)

// Publish works one publication job of the event, as river would (tests run it twice).
func Publish(ctx context.Context, d *kit.Deps, js jetstream.JetStream, brand, id uuid.UUID) error {
	return publish(ctx, d, js, brand, id)
}

// Work works one publication job of the event as the worker does, a busy brand included.
func Work(ctx context.Context, d *kit.Deps, js jetstream.JetStream, brand, id uuid.UUID) error {
	return notAnAttempt(publish(ctx, d, js, brand, id))
}
