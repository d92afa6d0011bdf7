package server

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ipLimiter allows each client IP a number of requests per minute, with a burst of the same size.
// It is per instance: behind several instances a client gets that many per instance.
type ipLimiter struct {
	mu      sync.Mutex
	perMin  int
	clients map[string]*clientLimit
	now     func() time.Time
	swept   time.Time
}

type clientLimit struct {
	lim  *rate.Limiter
	seen time.Time
}

func newIPLimiter(perMinute int, now func() time.Time) *ipLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &ipLimiter{perMin: perMinute, clients: map[string]*clientLimit{}, now: now}
}

// allow takes one request from ip's budget; when there is none it returns false and the whole
// seconds to wait.
func (l *ipLimiter) allow(ip string) (bool, int) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	c, ok := l.clients[ip]
	if !ok {
		c = &clientLimit{lim: rate.NewLimiter(rate.Limit(float64(l.perMin)/60), l.perMin)}
		l.clients[ip] = c
	}
	c.seen = now
	r := c.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return false, int(math.Ceil(delay.Seconds()))
	}
	return true, 0
}

// sweep forgets clients idle for long enough to have a full budget again, so the map stays small.
func (l *ipLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < time.Minute {
		return
	}
	l.swept = now
	for ip, c := range l.clients {
		if now.Sub(c.seen) > 2*time.Minute {
			delete(l.clients, ip)
		}
	}
}

// clientIP is the address the request came from: the connection's peer, or, when that peer is a
// trusted proxy, the nearest X-Forwarded-For entry not added by a trusted proxy. Entries further
// left were written by the client itself and are never believed, so a forged header cannot dodge
// a per-IP limit.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr.String() // a garbled chain: trust only what we saw
		}
		if !isTrusted(hop, trusted) {
			return hop.Unmap().String()
		}
		addr = hop
	}
	return addr.Unmap().String()
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
