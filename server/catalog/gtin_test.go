package catalog_test

import (
	"testing"

	"github.com/ecompointer/ecompointer/server/catalog"
)

func TestValidGTIN(t *testing.T) {
	t.Parallel()
	cases := []struct {
		gtin string
		ok   bool
	}{
		{"4006381333931", true},   // EAN-13
		{"4006381333932", false},  // check digit off by one
		{"0036000291452", true},   // EAN-13 of a UPC
		{"036000291452", true},    // UPC-A (GTIN-12)
		{"036000291453", false},   // UPC-A, wrong check digit
		{"96385074", true},        // EAN-8
		{"96385075", false},       // EAN-8, wrong check digit
		{"10012345678902", true},  // GTIN-14
		{"10012345678903", false}, // GTIN-14, wrong check digit
		{"0000000000000", true},   // all zeros: a valid check digit, nothing more
		{"", false},
		{"1234567", false},         // GTIN-7 does not exist
		{"123456789012345", false}, // 15 digits
		{"40063813339a1", false},
		{"400638133393\x00", false},
		{"٤٠٠٦٣٨١٣٣٣٩٣١", false}, // Arabic-Indic digits are not GTIN digits
	}
	for _, c := range cases {
		t.Run(c.gtin, func(t *testing.T) {
			if got := catalog.ValidGTIN(c.gtin); got != c.ok {
				t.Fatalf("ValidGTIN(%q) = %v, want %v", c.gtin, got, c.ok)
			}
		})
	}
}

// FuzzValidGTIN: any bytes are answered without a panic, a valid GTIN is only ever ASCII digits
// of a GTIN length, and changing its check digit always makes it invalid.
func FuzzValidGTIN(f *testing.F) {
	for _, s := range []string{"4006381333931", "036000291452", "96385074", "10012345678902", "", "x", "١٢٣٤٥٦٧٨"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !catalog.ValidGTIN(s) {
			return
		}
		switch len(s) {
		case 8, 12, 13, 14:
		default:
			t.Fatalf("%q: valid at length %d", s, len(s))
		}
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				t.Fatalf("%q: valid with a non-digit", s)
			}
		}
		b := []byte(s)
		b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
		if catalog.ValidGTIN(string(b)) {
			t.Fatalf("%q and %q both valid", s, b)
		}
	})
}
