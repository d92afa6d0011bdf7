package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// awkward is text encoding/json escapes in every way it has: quotes, backslashes, HTML's
// characters, control characters, line and paragraph separators, invalid UTF-8, non-ASCII.
var awkward = []string{
	"", "plain", `a "quoted" \ back`, "<b>&amp;</b>", "a<b", "x>y", "a&b", "tab\tnew\nline\r\x00\x01\x1f\x7f", "\b\f",
	"\u2028\u2029", "caf\u00e9 \u4e2d\u6587 \U0001F600", "\xff\xfe bad", "\xe2\x80", "{\"k\": 1}", " ",
}

// plainWords are attribute text as it mostly is: no escapes, some of it beyond ASCII.
var plainWords = []string{"color", "size", "black", "M", "brass", "caf\u00e9", "\u4e2d\u6587", "a b", "", "42"}

// flatWords are plainWords and text jsonb holds unescaped that encoding/json escapes.
var flatWords = append([]string{"<b>&amp;</b>", "a<b", "x>y", "a&b", "\u2028\u2029", " "}, plainWords...)

// sampleRows are product rows with every kind of text, attributes in jsonb's spelling, times in
// other zones than UTC, and every field only variants, images and barcodes have.
func sampleRows(rng *rand.Rand) []productRow {
	text := func() string { return awkward[rng.IntN(len(awkward))] + awkward[rng.IntN(len(awkward))] }
	var out []productRow
	for i := range 200 {
		p := db.Product{
			BrandID: uuid.New(), ID: uuid.New(), Sku: text(), Name: text(), Currency: text(),
			Status: db.ProductStatus(text()), PriceAmount: rng.Int64() - rng.Int64(), Version: rng.Int64N(1 << 40),
			CreatedAt:  time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)).UTC(),
			UpdatedAt:  time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)*int64(i%2)).In(time.FixedZone("", 3600*(i%5-2))),
			Attributes: []byte("{}"), Options: []byte("[]"), OptionValues: []byte("[]"), Images: []byte("[]"),
		}
		if i%3 != 0 {
			d := text()
			p.Description = &d
		}
		switch i % 4 {
		case 0: // nil tags
		case 1:
			p.Tags = []string{}
		default:
			// Half of them in text jsonb holds as it is (HTML's characters and all), which the
			// encoder writes from the stored bytes.
			attr := text
			if i%4 == 3 {
				attr = func() string { return flatWords[rng.IntN(len(flatWords))] }
			}
			attrs := api.Attributes{}
			for range rng.IntN(2 * maxSortedOnStack) {
				attrs[attr()+fmt.Sprint(rng.IntN(100))] = attr()
			}
			p.Attributes = jsonbText(rng, attrs)
			for range rng.IntN(4) {
				p.Tags = append(p.Tags, text())
			}
		}
		r := productRow{Product: &p}
		switch i % 23 {
		case 1:
			p.ParentID = &p.BrandID
			p.OptionValues = []byte(`[{"name":"Color","value":"Red"}]`)
		case 2:
			p.Options = []byte(`[{"name":"Color","values":["Red"]}]`)
			r.sum = &summary{count: 2, min: 5, max: 7}
		case 3:
			p.Images = []byte(`[{"url":"https://example.com/a.png"}]`)
		case 4:
			p.Barcode = &p.Sku
		case 5:
			w := int64(120)
			p.WeightGrams = &w
		case 6:
			p.AllowBackorder = true
		}
		out = append(out, r)
	}
	return out
}

// TestProductJSONIsEncodingJSON holds the product answers to the bytes and headers the
// generated answers write through encoding/json for the rows' api.Product.
func TestProductJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	rows := sampleRows(rng)
	var decoded []api.Product
	fromBytes := 0
	for _, r := range rows {
		d, err := r.decoded()
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, d)
		var spans [2 * maxFlatAttributes][2]int
		if n, ok := flatSpans(r.Attributes, &spans); ok && n > 2 {
			fromBytes++
		}
	}
	if fromBytes < 20 {
		t.Fatalf("only %d products' attributes were written from their bytes: the test proves little", fromBytes)
	}
	for i, r := range rows {
		etag := fmt.Sprintf(`"%d"`, r.Version)
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := (api.GetProduct200JSONResponse{Body: decoded[i], Headers: api.GetProduct200ResponseHeaders{ETag: &etag}}).VisitGetProductResponse(want); err != nil {
			t.Fatal(err)
		}
		if err := (productOK{row: r, etag: &etag}).VisitGetProductResponse(got); err != nil {
			t.Fatal(err)
		}
		sameAnswer(t, fmt.Sprintf("product %d", i), want, got)
	}
	next := "cursor<&>"
	pages := []struct {
		rows    []productRow
		decoded []api.Product
		next    *string
	}{
		{nil, nil, nil}, {[]productRow{}, []api.Product{}, nil}, {rows[:1], decoded[:1], &next},
		{rows[:20], decoded[:20], nil}, {rows, decoded, &next},
	}
	for i, page := range pages {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := (api.ListProducts200JSONResponse{Items: page.decoded, NextCursor: page.next}).VisitListProductsResponse(want); err != nil {
			t.Fatal(err)
		}
		if err := (productPageOK{items: page.rows, next: page.next}).VisitListProductsResponse(got); err != nil {
			t.Fatal(err)
		}
		sameAnswer(t, fmt.Sprintf("page %d", i), want, got)
	}
}

// jsonbText spells attrs as PostgreSQL writes a jsonb object: ", " between members, ": " after
// names, only quotes, backslashes and control characters escaped (text that is not UTF-8, which
// jsonb cannot hold, as encoding/json writes it). The members come in a random order: jsonb
// writes them shortest name first.
func jsonbText(rng *rand.Rand, attrs api.Attributes) []byte {
	quote := func(s string) string {
		if !utf8.ValidString(s) {
			b, _ := json.Marshal(s)
			return string(b)
		}
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	keys := slices.Collect(maps.Keys(attrs))
	rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	members := make([]string, len(keys))
	for i, k := range keys {
		members[i] = quote(k) + ": " + quote(attrs[k])
	}
	return []byte("{" + strings.Join(members, ", ") + "}")
}

// TestProductJSONLeavesTheRareToEncodingJSON proves the one case the encoder does not write
// itself, a time encoding/json refuses, fails as the generated answer fails, before anything is
// written (the generated answer has sent its 200 by then).
func TestProductJSONLeavesTheRareToEncodingJSON(t *testing.T) {
	t.Parallel()
	p := db.Product{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Attributes: []byte("{}")}
	wantErr := (api.GetProduct200JSONResponse{Body: api.Product{CreatedAt: p.CreatedAt, Attributes: api.Attributes{}}}).VisitGetProductResponse(httptest.NewRecorder())
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter) error
	}{
		{"get", productOK{row: productRow{Product: &p}}.VisitGetProductResponse},
		{"list", productPageOK{items: []productRow{{Product: &p}}}.VisitListProductsResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			gotErr := tc.answer(rec)
			if wantErr == nil || gotErr == nil || wantErr.Error() != gotErr.Error() {
				t.Errorf("year 10000: generated %v, encoder %v", wantErr, gotErr)
			}
			if len(rec.Header()) != 0 || rec.Body.Len() != 0 {
				t.Errorf("wrote %v %q before failing", rec.Header(), rec.Body)
			}
		})
	}
}

func sameAnswer(t *testing.T, what string, want, got *httptest.ResponseRecorder) {
	t.Helper()
	if want.Code != got.Code || !bytes.Equal(want.Body.Bytes(), got.Body.Bytes()) {
		t.Errorf("%s:\n got %d %s\nwant %d %s", what, got.Code, got.Body, want.Code, want.Body)
	}
	// The encoder also states the body's length, which net/http states itself only for a body
	// that fits its 2 KB buffer.
	want.Header().Set("Content-Length", strconv.Itoa(want.Body.Len()))
	for k, v := range want.Header() {
		if strings.Join(got.Header()[k], ",") != strings.Join(v, ",") {
			t.Errorf("%s: header %s = %q, want %q", what, k, got.Header()[k], v)
		}
	}
	if len(want.Header()) != len(got.Header()) {
		t.Errorf("%s: headers %v, want %v", what, got.Header(), want.Header())
	}
}

// BenchmarkProductJSON answers a page of twenty products like the load harness's seeded ones:
// through api.Product and encoding/json, as the generated answer does, and through the encoder.
func BenchmarkProductJSON(b *testing.B) {
	rows := make([]productRow, 20)
	for i := range rows {
		desc := "A product for the benchmark"
		rows[i].Product = &db.Product{
			BrandID: uuid.New(), ID: uuid.New(), Sku: fmt.Sprintf("BENCH-%04d", i), Name: fmt.Sprintf("Polished brass bench %d", i),
			Currency: "USD", Status: db.ProductStatusActive, PriceAmount: 1999, Version: 1, Description: &desc,
			Attributes: []byte(`{"size": "M", "color": "black"}`), Tags: []string{"bench", "brass"},
			Options: []byte("[]"), OptionValues: []byte("[]"), Images: []byte("[]"),
			CreatedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC), UpdatedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		}
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			items := make([]api.Product, len(rows))
			for i, r := range rows {
				items[i], _ = r.decoded()
			}
			_ = (api.ListProducts200JSONResponse{Items: items}).VisitListProductsResponse(httptest.NewRecorder())
		}
	})
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = (productPageOK{items: rows}).VisitListProductsResponse(httptest.NewRecorder())
		}
	})
}

// TestAttributesDecodeAsEncodingJSON holds decodeAttributes to json.Unmarshal: on what jsonb
// writes for random attributes, and on every other shape of JSON, its short path either gives
// exactly what encoding/json gives or leaves the text to it.
func TestAttributesDecodeAsEncodingJSON(t *testing.T) {
	t.Parallel()
	texts := []string{
		`{}`, ` { } `, `{"a": "b"}`, `{"a":"b","c":"d"}`, "{\n\"a\" :\t\"b\" }", `{"a": "b", "a": "c"}`,
		`{"a": 1}`, `{"a": null}`, `{"a": {"b": "c"}}`, `{"a": ["b"]}`, `{"a": "b\"c"}`, `{"a": "\u00e9"}`,
		`{"a": "b"} x`, `{"a": "b",}`, `{"a": "b" "c": "d"}`, `{"a" "b"}`, `{"a": "b"`, `{"a": "b`, `{`, ``,
		`null`, `[]`, `"a"`, "{\"a\": \"b\xffc\"}", "{\"a\": \"b\x01\"}", `{"": ""}`, `{"a": true}`,
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		word := func() string {
			if rng.IntN(10) == 0 {
				return awkward[rng.IntN(len(awkward))]
			}
			return plainWords[rng.IntN(len(plainWords))]
		}
		attrs := map[string]string{}
		for range rng.IntN(2 + rng.IntN(2)*maxFlatAttributes) {
			attrs[word()+fmt.Sprint(rng.IntN(50))] = word()
		}
		// jsonb's spelling: ", " between members and ": " after names.
		var b strings.Builder
		b.WriteByte('{')
		first := true
		for k, v := range attrs {
			if !first {
				b.WriteString(", ")
			}
			first = false
			key, _ := json.Marshal(k)
			value, _ := json.Marshal(v)
			b.Write(key)
			b.WriteString(": ")
			b.Write(value)
		}
		b.WriteByte('}')
		texts = append(texts, b.String())
	}
	short := 0
	for _, text := range texts {
		got, gotErr := decodeAttributes([]byte(text))
		want := api.Attributes{}
		wantErr := json.Unmarshal([]byte(text), &want)
		if (gotErr == nil) != (wantErr == nil) || gotErr == nil && !maps.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%q: got %v, %v; encoding/json %v, %v", text, got, gotErr, want, wantErr)
		}
		if _, ok := flatStrings([]byte(text)); ok {
			short++
		}
	}
	if short < 50 {
		t.Fatalf("only %d texts took the short path: the test proves little", short)
	}
}

// FuzzStoredAttributes holds appendStoredAttributes to encoding/json: whatever the stored text
// (a client's attributes, as jsonb keeps them), it writes exactly what encoding/json writes for
// the decoded attributes, or reports false where they do not decode.
func FuzzStoredAttributes(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"b": "1", "a": "2"}`, `{"a": "<&>"}`, `{"a": "b", "a": "c"}`, `{"a": "\u00e9"}`, `{"a": 1}`,
		`{"ab": "x", "b": "y", "aa": "z"}`, "{\"a\": \"\u2028\"}", `null`, `{"a": "b"`, "{\"\xff\": \"b\"}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := appendStoredAttributes(nil, raw)
		attrs, err := decodeAttributes(raw)
		if err != nil {
			if ok {
				t.Fatalf("%q does not decode (%v), yet was written as %s", raw, err, got)
			}
			return
		}
		want, _ := json.Marshal(attrs)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("%q: wrote %s (%v), encoding/json %s", raw, got, ok, want)
		}
	})
}

// TestStoredAttributesAllocateNothing: written from their bytes, a product's attributes cost no
// allocation (the map they were decoded into cost three).
func TestStoredAttributesAllocateNothing(t *testing.T) {
	raw := []byte(`{"size": "M", "color": "black", "material": "brass"}`)
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf, _ = appendStoredAttributes(buf[:0], raw) }); n != 0 {
		t.Errorf("%v allocations a product", n)
	}
	if want := `{"color":"black","material":"brass","size":"M"}`; string(buf) != want {
		t.Errorf("wrote %s, want %s", buf, want)
	}
}
