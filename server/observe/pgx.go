package observe

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// QueryTracer is a pgx tracer making a child span per SQL statement, named by its sqlc query name
// (sqlc starts every statement with `-- name: UserGetByEmail :one`), for statements sent alone and
// in batches (the brand-scoped transactions pipeline their first statements). It makes spans only
// inside a recorded span, so background work and an untraced request cost one context lookup per
// statement. Set it on the pool's connection config.
func QueryTracer() pgx.QueryTracer { return queryTracer{} }

type queryTracer struct{}

// querySpanKey marks the span TraceQueryStart made, so that TraceQueryEnd ends that one and never
// the request's own span when it made none.
type querySpanKey struct{}

var (
	_ pgx.QueryTracer = queryTracer{}
	_ pgx.BatchTracer = queryTracer{}
)

func startQuerySpan(ctx context.Context, sql string) (context.Context, trace.Span, bool) {
	if !tracingOn.Load() || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil, false
	}
	ctx, span := tracer.Load().t.Start(ctx, QueryName(sql), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql")))
	return ctx, span, true
}

func endQuerySpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

func (queryTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	txControl(conn, data.SQL, false)
	ctx, span, ok := startQuerySpan(ctx, data.SQL)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, querySpanKey{}, span)
}

func (queryTracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if types, ok := ctx.Value(eventsKey{}).([]string); ok && data.Err == nil {
		eventsWrote(conn, types)
	} else if data.Err == nil && data.CommandTag.String() == "COMMIT" {
		txControl(conn, "", true)
	}
	if span, ok := ctx.Value(querySpanKey{}).(trace.Span); ok {
		endQuerySpan(span, data.Err)
	}
}

// A batch's statements are answered one after the other once the batch is sent, and pgx reports
// each only when its answer is read: each gets a span at that moment (no duration of its own).
func (queryTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (queryTracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if types, ok := ctx.Value(eventsKey{}).([]string); ok && data.Err == nil && data.SQL != "" && QueryName(data.SQL) == "EventInsert" {
		eventsWrote(conn, types)
	} else if data.Err == nil && data.CommandTag.String() == "COMMIT" { // kit's COMMIT pipelined with the outbox row
		txControl(conn, "", true)
	} else {
		txControl(conn, data.SQL, false)
	}
	if _, span, ok := startQuerySpan(ctx, data.SQL); ok {
		endQuerySpan(span, data.Err)
	}
}

func (queryTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// QueryName is a statement's sqlc name (`-- name: ProductGet :one` gives ProductGet), or its first
// keyword (SELECT, BEGIN...) for SQL that sqlc did not generate; never the statement itself, which
// would make span names unbounded.
func QueryName(sql string) string {
	s := strings.TrimSpace(sql)
	if rest, ok := strings.CutPrefix(s, "-- name: "); ok {
		if name, _, ok := strings.Cut(rest, " "); ok && name != "" {
			return name
		}
	}
	word, _, _ := strings.Cut(s, " ")
	word = strings.ToUpper(strings.TrimRight(word, ";\n"))
	if len(word) > 16 {
		word = word[:16]
	}
	if word == "" {
		return "SQL"
	}
	return word
}
