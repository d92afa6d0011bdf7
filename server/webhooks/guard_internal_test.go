package webhooks

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// TestAtonIPv4 pins the spellings inet_aton reads, and those it does not, one subtest each.
func TestAtonIPv4(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ host, want string }{
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"0x7f.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"0177.0.0.01", "127.0.0.1"},
		{"169.254.43518", "169.254.169.254"},
		{"10.0x10203", "10.1.2.3"},
		{"0", "0.0.0.0"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.1", ""},
		{"08.1.1.1", ""},
		{"0x", ""},
		{"1..1", ""},
		{"1.2.3.4.5", ""},
		{"", ""},
	} {
		t.Run(tc.host, func(t *testing.T) {
			got, ok := atonIPv4(tc.host)
			if (tc.want == "") == ok || ok && got.String() != tc.want {
				t.Errorf("atonIPv4(%q) = %v, %v; want %q", tc.host, got, ok, tc.want)
			}
		})
	}
}

// FuzzCheckURL: whatever a client sends as an endpoint URL, checking it never panics, and a URL it
// accepts never names a refused address in any spelling: a host ending in a number is then a
// canonical IPv4 address outside the refused ranges.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://hooks.example.com/x", "https://2130706433/", "https://0x7f.1/", "https://127.1:8443/",
		"https://[::ffff:127.0.0.1]/", "https://[::ffff:8.8.8.8]/", "https://[2001:4860::8.8.8.8]/", "https://8.8.8.8/", "https://012.1.2.3/", "https://a.b.c.123/", "http://h/"} {
		f.Add(s)
	}
	var g guard
	f.Fuzz(func(t *testing.T, raw string) {
		if g.checkURL(raw, true) != "" {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
		if addr, ok := atonIPv4(host); ok && g.check(addr) != nil {
			t.Fatalf("accepted %q, which spells %s", raw, addr)
		}
		if numericLabel(host) && !strings.Contains(host, ":") { // an IPv6 literal may end in a dotted IPv4 part
			if addr, err := netip.ParseAddr(host); err != nil || !addr.Unmap().Is4() {
				t.Fatalf("accepted %q, whose host ends in a number but is no IPv4 address", raw)
			}
		}
	})
}
