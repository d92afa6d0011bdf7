package catalog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
)

// The product's answers are the catalog's hottest path (a product read, a page of twenty): the
// generated answers encode them through encoding/json's reflection, which was a fifth of a
// list's CPU. These answers write the same bytes (TestProductJSONIsEncodingJSON holds them to
// it) from the rows read, into a pooled buffer: no api.Product, no map of attributes.

// productOK is GetProduct's 200, encoded without reflection.
type productOK struct {
	row  productRow
	etag *string
}

// VisitGetProductResponse writes what api.GetProduct200JSONResponse writes for the row's product,
// and its length.
func (r productOK) VisitGetProductResponse(w http.ResponseWriter) error {
	buf := buffers.Get().(*[]byte)
	defer putBuffer(buf)
	b, err := appendAnyProduct((*buf)[:0], r.row)
	if err != nil {
		return err
	}
	*buf = append(b, '\n')
	if r.etag != nil {
		w.Header().Set("ETag", *r.etag)
	}
	return writeOK(w, *buf)
}

// productPageOK is ListProducts' 200, encoded without reflection.
type productPageOK struct {
	items []productRow
	next  *string
}

// VisitListProductsResponse writes what api.ListProducts200JSONResponse writes for the rows'
// products, and its length.
func (r productPageOK) VisitListProductsResponse(w http.ResponseWriter) error {
	buf := buffers.Get().(*[]byte)
	defer putBuffer(buf)
	b, err := appendProductList((*buf)[:0], r.items, r.next)
	if err != nil {
		return err
	}
	*buf = append(b, '\n')
	return writeOK(w, *buf)
}

// writeOK answers 200 with body, a JSON document, and its length: net/http would otherwise send a
// body larger than its 2 KB buffer (a page of products) chunked, one more write to the socket.
func writeOK(w http.ResponseWriter, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// buffers keep the answers' bytes between requests; one holding an unusually large answer is
// dropped rather than kept.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuffer is the largest buffer kept: a full page of large products.
const maxPooledBuffer = 1 << 20

func putBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		buffers.Put(b)
	}
}

func appendProductList(b []byte, items []productRow, next *string) ([]byte, error) {
	b = append(b, `{"items":`...)
	if items == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range items {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendAnyProduct(b, items[i]); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"nextCursor":`...)
	b = appendNullableString(b, next)
	return append(b, '}'), nil
}

// appendAnyProduct appends r's api.Product as encoding/json writes it: through appendProduct, or
// where that leaves it to encoding/json (a variant, a product with images), through encoding/json
// itself, failing where it fails. Either way the answer states its length, and a product that
// cannot be written fails before anything is written.
func appendAnyProduct(b []byte, r productRow) ([]byte, error) {
	if out, ok := appendProduct(b, r); ok {
		return out, nil
	}
	p, err := r.decoded()
	if err != nil {
		return b, err
	}
	text, err := json.Marshal(p)
	if err != nil {
		return b, err
	}
	return append(b, text...), nil
}

// appendProduct appends r as encoding/json encodes its api.Product (r.decoded()): the fields in
// their declaration order, the attributes' keys sorted, strings escaped the same way. It reports
// false for what only encoding/json can say (a time outside the years 0-9999 is an error there),
// for attributes that do not decode, and for the fields only variants, images and barcodes have.
func appendProduct(b []byte, r productRow) ([]byte, bool) {
	p := r.Product
	// A plain product, the common case, has none of the optional fields.
	if p.ParentID != nil || holds(p.Options) || holds(p.OptionValues) || holds(p.Images) || r.sum != nil ||
		p.Barcode != nil || p.WeightGrams != nil || p.AllowBackorder {
		return b, false
	}
	b = append(b, `{"attributes":`...)
	var ok bool
	if b, ok = appendStoredAttributes(b, p.Attributes); !ok {
		return b, false
	}
	b = append(b, `,"brandId":`...)
	b = appendUUID(b, p.BrandID)
	b = append(b, `,"createdAt":`...)
	if b, ok = appendTime(b, p.CreatedAt.UTC()); !ok {
		return b, false
	}
	b = append(b, `,"currency":`...)
	b = appendString(b, p.Currency)
	b = append(b, `,"description":`...)
	b = appendNullableString(b, p.Description)
	b = append(b, `,"id":`...)
	b = appendUUID(b, p.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, p.Name)
	b = append(b, `,"priceAmount":`...)
	b = strconv.AppendInt(b, p.PriceAmount, 10)
	b = append(b, `,"sku":`...)
	b = appendString(b, p.Sku)
	b = append(b, `,"status":`...)
	b = appendString(b, string(p.Status))
	b = append(b, `,"tags":`...)
	if p.Tags == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range p.Tags {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = append(b, `,"updatedAt":`...)
	if b, ok = appendTime(b, p.UpdatedAt.UTC()); !ok {
		return b, false
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, p.Version, 10)
	return append(b, '}'), true
}

// maxSortedOnStack is how many attribute names are sorted without a heap allocation.
const maxSortedOnStack = 16

// appendStoredAttributes appends the attributes stored as raw, as encoding/json encodes them
// decoded: from raw's own bytes when it is what flatStrings reads (jsonb writes its keys ordered
// by length, encoding/json by their bytes, so the members are reordered), through the decoded
// map otherwise. False when raw does not decode.
func appendStoredAttributes(b []byte, raw []byte) ([]byte, bool) {
	viaMap := func() ([]byte, bool) {
		attrs, err := decodeAttributes(raw)
		if err != nil {
			return b, false
		}
		return appendAttributes(b, attrs), true
	}
	var spans [2 * maxFlatAttributes][2]int
	n, ok := flatSpans(raw, &spans)
	if !ok {
		return viaMap()
	}
	var onStack [maxFlatAttributes]int
	pairs := onStack[:0]
	for i := 0; i < n; i += 2 {
		pairs = append(pairs, i)
	}
	key := func(i int) []byte { return raw[spans[i][0]:spans[i][1]] }
	slices.SortFunc(pairs, func(i, j int) int { return bytes.Compare(key(i), key(j)) })
	for i := 1; i < len(pairs); i++ {
		if bytes.Equal(key(pairs[i-1]), key(pairs[i])) {
			return viaMap() // a name twice (jsonb never writes it): the decoded map keeps the last
		}
	}
	b = append(b, '{')
	for i, p := range pairs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, key(p))
		b = append(b, ':')
		b = appendString(b, raw[spans[p+1][0]:spans[p+1][1]])
	}
	return append(b, '}'), true
}

func appendAttributes(b []byte, attrs api.Attributes) []byte {
	if attrs == nil {
		return append(b, "null"...)
	}
	var onStack [maxSortedOnStack]string
	keys := onStack[:0]
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys) // encoding/json's order for a map with string keys
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, attrs[k])
	}
	return append(b, '}')
}

// appendUUID appends u quoted in its canonical form, as its MarshalText writes it.
func appendUUID(b []byte, u uuid.UUID) []byte {
	const digits = "0123456789abcdef"
	b = append(b, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return append(b, '"')
}

func appendNullableString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendTime is time.Time's MarshalJSON (RFC 3339 with the fraction it has), false where that
// fails.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendString appends s as a JSON string exactly as encoding/json writes it. Text of printable
// ASCII other than the characters it escapes (the quote, the backslash, and <, > and & which it
// escapes for HTML) is written as it is; anything else is left to encoding/json itself.
func appendString[T string | []byte](b []byte, s T) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(string(s)) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// maxFlatAttributes is how many attributes decodeAttributes reads itself; more go to
// encoding/json.
const maxFlatAttributes = 32

// decodeAttributes is json.Unmarshal of a product's stored attributes into api.Attributes. What
// PostgreSQL's jsonb writes for them, a flat object of strings, takes a short path when no string
// holds an escape: one allocation for the text and one for the map, where encoding/json spends
// two for every attribute and more for its reflection. Anything else is encoding/json's.
func decodeAttributes(raw []byte) (api.Attributes, error) {
	if attrs, ok := flatStrings(raw); ok {
		return attrs, nil
	}
	attrs := api.Attributes{}
	err := json.Unmarshal(raw, &attrs)
	return attrs, err
}

// flatStrings reads raw when it is one JSON object whose members are all strings without a
// backslash or a control character, in valid UTF-8; false for anything else.
func flatStrings(raw []byte) (api.Attributes, bool) {
	var spans [2 * maxFlatAttributes][2]int
	n, ok := flatSpans(raw, &spans)
	if !ok {
		return nil, false
	}
	text := string(raw)
	attrs := make(api.Attributes, n/2)
	for j := 0; j < n; j += 2 {
		attrs[text[spans[j][0]:spans[j][1]]] = text[spans[j+1][0]:spans[j+1][1]]
	}
	return attrs, true
}

// flatSpans finds the members of raw when it is what flatStrings reads: spans[0:n] are the
// spans of their names and values in turn, each the text itself (nothing to unescape).
func flatSpans(raw []byte, spans *[2 * maxFlatAttributes][2]int) (int, bool) {
	if !utf8.Valid(raw) {
		return 0, false
	}
	n := 0
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] != '{' {
		return 0, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		i++
	} else {
		for {
			if n == len(spans) {
				return 0, false
			}
			var ok bool
			if spans[n], i, ok = plainString(raw, i); !ok {
				return 0, false
			}
			if i = skipSpace(raw, i); i == len(raw) || raw[i] != ':' {
				return 0, false
			}
			if spans[n+1], i, ok = plainString(raw, skipSpace(raw, i+1)); !ok {
				return 0, false
			}
			n += 2
			if i = skipSpace(raw, i); i == len(raw) {
				return 0, false
			}
			if raw[i] == '}' {
				i++
				break
			}
			if raw[i] != ',' {
				return 0, false
			}
			i = skipSpace(raw, i+1)
		}
	}
	if skipSpace(raw, i) != len(raw) {
		return 0, false
	}
	return n, true
}

// plainString reads the JSON string starting at raw[i], returning the span of its content and
// the index after its closing quote; false unless it is there and needs no unescaping.
func plainString(raw []byte, i int) ([2]int, int, bool) {
	if i >= len(raw) || raw[i] != '"' {
		return [2]int{}, i, false
	}
	for j := i + 1; j < len(raw); j++ {
		switch c := raw[j]; {
		case c == '"':
			return [2]int{i + 1, j}, j + 1, true
		case c == '\\' || c < 0x20:
			return [2]int{}, j, false
		}
	}
	return [2]int{}, len(raw), false
}

// skipSpace skips JSON's white space from raw[i].
func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}
