package observe

import (
	"context"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
)

// eventsWritten counts events when the transaction that wrote them commits: the outbox writes
// them inside the change's transaction (server/events), and a rolled-back change wrote none.
var eventsWritten = prometheus.NewCounterVec(prometheus.CounterOpts{
	Namespace: namespace, Name: "events_written_total",
	Help: "Events committed (the outbox of the feed and webhooks), by event type.",
}, []string{"type"})

type eventsKey struct{}

// WritingEvents marks ctx as the context of the statement that writes events of types, in the
// transaction of their change. The pool's tracer (QueryTracer) holds them for the connection's
// transaction and counts them once the database answers its COMMIT; a rollback, of the
// transaction or of the savepoint they were written in, drops them.
func WritingEvents(ctx context.Context, types []string) context.Context {
	return context.WithValue(ctx, eventsKey{}, types)
}

// txEvents are the events a connection's open transaction wrote, and where each open savepoint
// began in them.
type txEvents struct {
	types      []string
	savepoints []int
}

// pendingEvents holds, per backend (its PID: a connection's, without keeping the connection
// alive), the events of its open transaction. A connection lost mid-transaction leaves a few
// strings behind until its PID is reused.
var (
	pendingMu     sync.Mutex
	pendingEvents = map[uint32]*txEvents{}
)

// eventsWrote records types as written by conn's open transaction.
func eventsWrote(conn *pgx.Conn, types []string) {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	pid := conn.PgConn().PID()
	p := pendingEvents[pid]
	if p == nil {
		p = &txEvents{}
		pendingEvents[pid] = p
	}
	p.types = append(p.types, types...)
}

// txControl follows conn's transaction through a statement that begins or ends it, or one of its
// savepoints, sent as sql (before its answer); committed is its answer to a COMMIT that committed.
func txControl(conn *pgx.Conn, sql string, committed bool) {
	var op string
	switch {
	case committed:
		op = "commit"
	case len(sql) > 40:
		return // not a transaction's control statement: the common case, decided without a lock
	default:
		s := strings.ToLower(strings.TrimSpace(sql))
		for _, o := range []string{"begin", "rollback to", "rollback", "release", "savepoint"} {
			if strings.HasPrefix(s, o) {
				op = o
				break
			}
		}
		if op == "" {
			return
		}
	}
	pendingMu.Lock()
	defer pendingMu.Unlock()
	pid := conn.PgConn().PID()
	p := pendingEvents[pid]
	if p == nil {
		return
	}
	switch op {
	case "commit":
		delete(pendingEvents, pid)
		for _, t := range p.types {
			eventsWritten.WithLabelValues(t).Inc()
		}
	case "begin", "rollback":
		delete(pendingEvents, pid)
	case "savepoint":
		p.savepoints = append(p.savepoints, len(p.types))
	case "release", "rollback to":
		if n := len(p.savepoints); n > 0 {
			if op == "rollback to" {
				p.types = p.types[:p.savepoints[n-1]]
			}
			p.savepoints = p.savepoints[:n-1]
		}
	}
}

func init() { Registry.MustRegister(eventsWritten) }
