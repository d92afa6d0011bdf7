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
// (sqlc starts every statement with `-- name: UserGetByEmail :one`). It makes spans only inside a
// recorded span, so background work and an untraced request cost one context lookup per
// statement. Set it on the pool's connection config.
func QueryTracer() pgx.QueryTracer { return queryTracer{} }

type queryTracer struct{}

func (queryTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !tracingOn.Load() || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	ctx, _ = tracer.Load().t.Start(ctx, QueryName(data.SQL), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "postgresql")))
	return ctx
}

func (queryTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if data.Err != nil {
		span.RecordError(data.Err)
		span.SetStatus(codes.Error, "query failed")
	}
	span.End()
}

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
