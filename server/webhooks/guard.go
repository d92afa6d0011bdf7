package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// blocked are the ranges a webhook may not reach unless Config.AllowedNetworks opens them: a
// webhook URL is a request an outsider makes from inside our network.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",      // "this network"; 0.0.0.0 reaches the host itself
		"10.0.0.0/8",     // private
		"100.64.0.0/10",  // carrier-grade NAT
		"127.0.0.0/8",    // loopback
		"169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
		"172.16.0.0/12",  // private
		"192.0.0.0/24",   // IETF protocol assignments
		"192.168.0.0/16", // private
		"198.18.0.0/15",  // benchmarking
		"224.0.0.0/4",    // multicast
		"240.0.0.0/4",    // reserved, broadcast
		"::/96",          // unspecified, loopback (::1), IPv4-compatible (::127.0.0.1: an IPv4 address in disguise)
		"64:ff9b::/96",   // NAT64: an IPv4 address in disguise
		"fc00::/7",       // unique-local (AWS metadata fd00:ec2::254 included)
		"fe80::/10",      // link-local
		"ff00::/8",       // multicast
		"2001:db8::/32",  // documentation
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// ErrRefusedAddress is a delivery to an address webhooks may not reach.
var ErrRefusedAddress = errors.New("address not allowed for webhooks")

type guard struct {
	allowed []netip.Prefix
}

// check refuses addr when it is in a blocked range that no allowed network opens.
func (g guard) check(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, p := range g.allowed {
		if p.Contains(addr) {
			return nil
		}
	}
	for _, p := range blocked {
		if p.Contains(addr) {
			return fmt.Errorf("%w: %s", ErrRefusedAddress, addr)
		}
	}
	return nil
}

// control runs when the socket is about to connect, after name resolution: a name that resolves
// to a refused address, or that resolves differently now than when the URL was checked (DNS
// rebinding), fails here.
func (g guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrRefusedAddress, address)
	}
	return g.check(ap.Addr())
}

// maxURL is the longest endpoint URL (the spec's WebhookUrl).
const maxURL = 2048

// checkURL says what is wrong with raw as an endpoint URL ("" when nothing): the scheme, user
// information, and a host that is a refused address (a literal one, or localhost) are refused at
// once; a name is checked again at every connection.
func (g guard) checkURL(raw string, allowHTTP bool) string {
	if len(raw) > maxURL {
		return fmt.Sprintf("must be at most %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" {
		return "must be an absolute URL"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme == "http":
		return "must use https"
	default:
		return "must be an https URL"
	}
	if u.User != nil {
		return "must not hold user information"
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return "must name a host"
	}
	if u.Fragment != "" {
		return "must not have a fragment"
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		host = "127.0.0.1"
	}
	addr, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil && numericLabel(host) {
		// No DNS name ends in a number: this is an IPv4 address in one of the spellings C's
		// inet_aton accepts (2130706433, 0x7f.1, 127.1, 0177.0.0.1), which some resolvers turn into
		// an address and others send to DNS. Its delivery would be refused or lost at connect time;
		// it is refused here, saying why.
		v4, ok := atonIPv4(host)
		if !ok || g.check(v4) == nil {
			return "must write an IPv4 address as four decimal numbers (a.b.c.d)"
		}
		addr, err = v4, nil
	}
	if err == nil && g.check(addr) != nil {
		return "must not lead to a loopback, private, link-local or metadata address"
	}
	return ""
}

// numericLabel says whether host's last label is a number (decimal, or hexadecimal after 0x).
func numericLabel(host string) bool {
	label := host[strings.LastIndexByte(host, '.')+1:]
	if hex, ok := strings.CutPrefix(label, "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return label != "" && strings.Trim(label, "0123456789") == ""
}

// atonIPv4 reads host as inet_aton does: one to four parts, each decimal, octal (a leading 0) or
// hexadecimal (0x), the last filling the bytes the others leave.
func atonIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var out [4]byte
	for i, part := range parts {
		base := 10
		switch {
		case strings.HasPrefix(part, "0x"):
			base, part = 16, part[2:]
		case len(part) > 1 && part[0] == '0':
			base, part = 8, part[1:]
		}
		bits := 8
		if i == len(parts)-1 {
			bits = 8 * (4 - i)
		}
		n, err := strconv.ParseUint(part, base, bits)
		if err != nil {
			return netip.Addr{}, false
		}
		for b := i + bits/8 - 1; b >= i; b-- {
			out[b] = byte(n)
			n >>= 8
		}
	}
	return netip.AddrFrom4(out), true
}

// maxResponse is the most of a receiver's answer that is read.
const maxResponse = 64 << 10

// newClient is the HTTP client of deliveries: every connection passes the guard, no proxy (the
// guard must see the receiver's own address), no redirect followed.
func newClient(g guard, cfg Config) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: g.control}
	return &http.Client{
		Timeout: cfg.Timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   maxWorkers,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   cfg.Timeout,
			ResponseHeaderTimeout: cfg.Timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewClient is the delivery client of cfg, for tests of the connection guard.
func NewClient(cfg Config) *http.Client {
	cfg = cfg.withDefaults()
	return newClient(guard{allowed: cfg.AllowedNetworks}, cfg)
}
