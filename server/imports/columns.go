package imports

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// productColumn is one column of the products file: how a cell becomes a field of the bulk
// upsert's item, and how the export writes it. This table is the one place the CSV mapping of a
// product lives: a new column (a variant's parentSku, options, barcode, images) is a new entry.
type productColumn struct {
	name string
	// required: the header must name it and no cell may be empty.
	required bool
	// property is the CreateProductRequest property a cell is validated against ("" for a
	// column the import ignores).
	property string
	// value turns a non-empty cell into the property's JSON value (validated against its schema
	// next); nil for an ignored column. An empty cell leaves the field out: kept on update, the
	// create default on insert (the bulk upsert's rule).
	value func(cell string) (any, error)
	// set puts the validated value in the item.
	set func(it *api.CreateProductRequest, v any)
	// get is the cell the export writes for p.
	get func(p db.Product) string
}

func text(cell string) (any, error) { return cell, nil }

func integer(cell string) (any, error) {
	n, err := strconv.ParseInt(cell, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("must be an integer written in plain digits")
	}
	return float64(n), nil // JSON's number, as the schema validator reads it; PriceAmount's bound is below 2^53
}

func jsonOf(what string) func(string) (any, error) {
	return func(cell string) (any, error) {
		var v any
		if err := json.Unmarshal([]byte(cell), &v); err != nil {
			return nil, fmt.Errorf("must be %s in JSON", what)
		}
		return v, nil
	}
}

func str(v any) string { return v.(string) } //nolint:forcetypeassert // validated against a string schema

var productColumns = []productColumn{
	{name: "sku", required: true, property: "sku", value: text,
		set: func(it *api.CreateProductRequest, v any) { it.Sku = str(v) },
		get: func(p db.Product) string { return p.Sku }},
	{name: "name", required: true, property: "name", value: text,
		set: func(it *api.CreateProductRequest, v any) { it.Name = str(v) },
		get: func(p db.Product) string { return p.Name }},
	{name: "priceAmount", required: true, property: "priceAmount", value: integer,
		set: func(it *api.CreateProductRequest, v any) { it.PriceAmount = int64(v.(float64)) }, //nolint:forcetypeassert // from integer
		get: func(p db.Product) string { return strconv.FormatInt(p.PriceAmount, 10) }},
	{name: "currency", property: "currency", value: text,
		set: func(it *api.CreateProductRequest, v any) { s := str(v); it.Currency = &s },
		get: func(p db.Product) string { return p.Currency }},
	{name: "status", property: "status", value: text,
		set: func(it *api.CreateProductRequest, v any) { s := api.ProductStatus(str(v)); it.Status = &s },
		get: func(p db.Product) string { return string(p.Status) }},
	{name: "description", property: "description", value: text,
		set: func(it *api.CreateProductRequest, v any) { s := str(v); it.Description = &s },
		get: func(p db.Product) string {
			if p.Description == nil {
				return ""
			}
			return *p.Description
		}},
	{name: "tags", property: "tags", value: jsonOf("an array of strings"),
		set: func(it *api.CreateProductRequest, v any) {
			tags := api.Tags{}
			for _, t := range v.([]any) { //nolint:forcetypeassert // validated against Tags
				tags = append(tags, str(t))
			}
			it.Tags = &tags
		},
		get: func(p db.Product) string {
			if len(p.Tags) == 0 {
				return ""
			}
			b, _ := json.Marshal(p.Tags)
			return string(b)
		}},
	{name: "attributes", property: "attributes", value: jsonOf("an object of strings"),
		set: func(it *api.CreateProductRequest, v any) {
			attrs := api.Attributes{}
			for k, s := range v.(map[string]any) { //nolint:forcetypeassert // validated against Attributes
				attrs[k] = str(s)
			}
			it.Attributes = &attrs
		},
		get: func(p db.Product) string {
			if s := string(p.Attributes); s != "{}" && s != "" {
				return s
			}
			return ""
		}},
	// Written by the export so that it says which product a row is; the import keys by SKU and
	// ignores them.
	{name: "id", get: func(p db.Product) string { return p.ID.String() }},
	{name: "version", get: func(p db.Product) string { return strconv.FormatInt(p.Version, 10) }},
	{name: "createdAt", get: func(p db.Product) string { return p.CreatedAt.UTC().Format(time.RFC3339Nano) }},
	{name: "updatedAt", get: func(p db.Product) string { return p.UpdatedAt.UTC().Format(time.RFC3339Nano) }},
}

// stockColumns are the columns of the stock file; required ones first.
var stockColumns = []string{"sku", "locationCode", "onHand", "receive", "reference", "reason", "reserved", "available"}

// columnsOf are the columns a kind's file may name.
func columnsOf(kind api.ImportKind) []string {
	if kind == api.ImportKindStock {
		return stockColumns
	}
	out := make([]string, len(productColumns))
	for i, c := range productColumns {
		out[i] = c.name
	}
	return out
}

// header is a file's header row read against its kind: where each known column is.
type header struct {
	index map[string]int
	names []string
}

func (h header) has(name string) bool { _, ok := h.index[name]; return ok }

// cell is the record's cell of column name ("" when the header does not name it), as written
// before an export neutralised it.
func (h header) cell(fields []string, name string) string {
	i, ok := h.index[name]
	if !ok || i >= len(fields) {
		return ""
	}
	return unneutralise(fields[i])
}

// readHeader checks a header row: known columns, each once, the required ones present. Its
// errors are a 400 naming `header`.
func readHeader(kind api.ImportKind, fields []string) (header, []api.FieldError) {
	known := map[string]bool{}
	for _, c := range columnsOf(kind) {
		known[c] = true
	}
	h := header{index: map[string]int{}, names: fields}
	var bad []api.FieldError
	for i, f := range fields {
		f = strings.TrimSpace(f)
		switch {
		case !known[f]:
			bad = append(bad, api.FieldError{Field: "header", Message: fmt.Sprintf("column %d (%.40q) is not a column of a %s file (%s)", i+1, f, kind, strings.Join(columnsOf(kind), ", "))})
		case h.has(f):
			bad = append(bad, api.FieldError{Field: "header", Message: fmt.Sprintf("column %q is named twice", f)})
		default:
			h.index[f] = i
		}
	}
	var required []string
	if kind == api.ImportKindStock {
		required = []string{"sku", "locationCode"}
		if len(bad) == 0 && !h.has("onHand") && !h.has("receive") {
			bad = append(bad, api.FieldError{Field: "header", Message: "a stock file needs an onHand (count) or a receive (receipt) column"})
		}
	} else {
		for _, c := range productColumns {
			if c.required {
				required = append(required, c.name)
			}
		}
	}
	for _, c := range required {
		if !h.has(c) {
			bad = append(bad, api.FieldError{Field: "header", Message: fmt.Sprintf("the %s column is required", c)})
		}
	}
	return h, bad
}

// rowError is one error of a row.
type rowError struct {
	row     int
	column  string
	message string
}

// productRow maps a record to the bulk upsert's item, validated against CreateProductRequest's
// schema property by property, so that each error names its column.
func (h *Handlers) productRow(hd header, line int, fields []string) (api.CreateProductRequest, []rowError) {
	var it api.CreateProductRequest
	var bad []rowError
	for _, c := range productColumns {
		if c.value == nil || !hd.has(c.name) {
			continue
		}
		cell := hd.cell(fields, c.name)
		if cell == "" {
			if c.required {
				bad = append(bad, rowError{line, c.name, "is required"})
			}
			continue
		}
		v, err := c.value(cell)
		if err == nil {
			err = h.validate(c.property, v)
		}
		if err != nil {
			bad = append(bad, rowError{line, c.name, err.Error()})
			continue
		}
		c.set(&it, v)
	}
	if len(bad) == 0 {
		for _, f := range catalogCheck(it) {
			bad = append(bad, rowError{line, f.Field, f.Message})
		}
	}
	return it, bad
}

// validate checks v against CreateProductRequest's property, in the words request validation
// uses.
func (h *Handlers) validate(property string, v any) error {
	ref := h.product.Properties[property]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("no schema for %s", property)
	}
	err := ref.Value.VisitJSON(v, h.schemaOpts...)
	if err == nil {
		return nil
	}
	if se, ok := err.(*openapi3.SchemaError); ok { //nolint:errorlint // VisitJSON returns it unwrapped
		msg := se.Reason
		if p := se.JSONPointer(); len(p) > 0 {
			msg = strings.Join(p, ".") + ": " + msg
		}
		if m, ok := se.Schema.Extensions["x-pattern-message"].(string); ok && se.SchemaField == "pattern" {
			msg = m
		}
		return fmt.Errorf("%s", msg)
	}
	return err
}
