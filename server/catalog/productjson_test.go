package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
)

// awkward is text encoding/json escapes in every way it has: quotes, backslashes, HTML's
// characters, control characters, line and paragraph separators, invalid UTF-8, non-ASCII.
var awkward = []string{
	"", "plain", `a "quoted" \ back`, "<b>&amp;</b>", "a<b", "x>y", "a&b", "tab\tnew\nline\r\x00\x01\x1f\x7f", "\b\f",
	"\u2028\u2029", "caf\u00e9 \u4e2d\u6587 \U0001F600", "\xff\xfe bad", "\xe2\x80", "{\"k\": 1}", " ",
}

// plainWords are attribute text as it mostly is: no escapes, some of it beyond ASCII.
var plainWords = []string{"color", "size", "black", "M", "brass", "caf\u00e9", "\u4e2d\u6587", "a b", "", "42"}

func sampleProducts(rng *rand.Rand) []api.Product {
	text := func() string { return awkward[rng.IntN(len(awkward))] + awkward[rng.IntN(len(awkward))] }
	var out []api.Product
	for i := range 200 {
		p := api.Product{
			BrandId: uuid.New(), Id: uuid.New(), Sku: text(), Name: text(), Currency: text(),
			Status: api.ProductStatus(text()), PriceAmount: rng.Int64() - rng.Int64(), Version: rng.Int64N(1 << 40),
			CreatedAt: time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)).UTC(),
			UpdatedAt: time.Unix(rng.Int64N(1<<35), rng.Int64N(1e9)*int64(i%2)).In(time.FixedZone("", 3600*(i%5-2))),
		}
		if i%3 != 0 {
			d := text()
			p.Description = &d
		}
		switch i % 4 {
		case 0: // nil attributes and tags
		case 1:
			p.Attributes, p.Tags = api.Attributes{}, api.Tags{}
		default:
			p.Attributes = api.Attributes{}
			for range rng.IntN(2 * maxSortedOnStack) {
				p.Attributes[text()+fmt.Sprint(rng.IntN(100))] = text()
			}
			for range rng.IntN(4) {
				p.Tags = append(p.Tags, text())
			}
		}
		out = append(out, p)
	}
	return out
}

// TestProductJSONIsEncodingJSON holds the product answers to the bytes and headers the
// generated answers write through encoding/json, for products with every kind of text.
func TestProductJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	products := sampleProducts(rand.New(rand.NewPCG(1, 2)))
	for i, p := range products {
		etag := fmt.Sprintf(`"%d"`, p.Version)
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := (api.GetProduct200JSONResponse{Body: p, Headers: api.GetProduct200ResponseHeaders{ETag: &etag}}).VisitGetProductResponse(want); err != nil {
			t.Fatal(err)
		}
		if err := (productOK{Body: p, Headers: api.GetProduct200ResponseHeaders{ETag: &etag}}).VisitGetProductResponse(got); err != nil {
			t.Fatal(err)
		}
		sameAnswer(t, fmt.Sprintf("product %d", i), want, got)
	}
	next := "cursor<&>"
	pages := []struct {
		items []api.Product
		next  *string
	}{{nil, nil}, {[]api.Product{}, nil}, {products[:1], &next}, {products[:20], nil}, {products, &next}}
	for i, page := range pages {
		want, got := httptest.NewRecorder(), httptest.NewRecorder()
		if err := (api.ListProducts200JSONResponse{Items: page.items, NextCursor: page.next}).VisitListProductsResponse(want); err != nil {
			t.Fatal(err)
		}
		if err := (productPageOK{Items: page.items, NextCursor: page.next}).VisitListProductsResponse(got); err != nil {
			t.Fatal(err)
		}
		sameAnswer(t, fmt.Sprintf("page %d", i), want, got)
	}
}

// TestProductJSONLeavesTheRareToEncodingJSON proves the one case the encoder does not write
// itself, a time encoding/json refuses, still answers as the generated answer does.
func TestProductJSONLeavesTheRareToEncodingJSON(t *testing.T) {
	t.Parallel()
	p := api.Product{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	wantErr := (api.GetProduct200JSONResponse{Body: p}).VisitGetProductResponse(httptest.NewRecorder())
	gotErr := (productOK{Body: p}).VisitGetProductResponse(httptest.NewRecorder())
	if wantErr == nil || gotErr == nil || wantErr.Error() != gotErr.Error() {
		t.Errorf("year 10000: generated %v, encoder %v", wantErr, gotErr)
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

// BenchmarkProductJSON encodes a page of twenty products like the load harness's seeded ones.
func BenchmarkProductJSON(b *testing.B) {
	products := make([]api.Product, 20)
	for i := range products {
		desc := "A product for the benchmark"
		products[i] = api.Product{
			BrandId: uuid.New(), Id: uuid.New(), Sku: fmt.Sprintf("BENCH-%04d", i), Name: fmt.Sprintf("Polished brass bench %d", i),
			Currency: "USD", Status: api.Active, PriceAmount: 1999, Version: 1, Description: &desc,
			Attributes: api.Attributes{"color": "black", "size": "M"}, Tags: api.Tags{"bench", "brass"},
			CreatedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC), UpdatedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		}
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = (api.ListProducts200JSONResponse{Items: products}).VisitListProductsResponse(httptest.NewRecorder())
		}
	})
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = (productPageOK{Items: products}).VisitListProductsResponse(httptest.NewRecorder())
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
