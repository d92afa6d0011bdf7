package imports

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// productColumn is one column of the products file: how a cell becomes a field of the row,
// and how the export writes it. This table is the one place the CSV mapping of a product lives.
type productColumn struct {
	name string
	// required: the header must name it and no cell may be empty.
	required bool
	// property is the property a cell is validated against: of CreateProductRequest, or of
	// OptionValue for the option columns (option set); "" for a column the import ignores.
	property string
	option   bool
	// value turns a non-empty cell into the property's JSON value (validated against its schema
	// next); nil for an ignored column. An empty cell leaves the field out: kept on update, the
	// create default on insert (the bulk upsert's rule).
	value func(cell string) (any, error)
	// set puts the validated value in the row.
	set func(r *productRecord, v any)
	// get is the cell the export writes for a product.
	get func(p db.ProductsExportPageRow) string
}

// productRecord is a row of a products file, read: a product (the bulk upsert's item), and for
// a variant its product's SKU and its option values.
type productRecord struct {
	line int
	it   api.CreateProductRequest
	// parentSku makes the row a variant of the product with that SKU.
	parentSku string
	// values are a variant's option values, by option column (1 to 3).
	values [3]api.OptionValue
}

// variant says whether the row is a variant's.
func (r productRecord) variant() bool { return r.parentSku != "" }

// optionValues are a variant's option values as the API writes them.
func (r productRecord) optionValues() api.OptionValues {
	var out api.OptionValues
	for _, v := range r.values {
		if v.Name != "" {
			out = append(out, v)
		}
	}
	return out
}

// saved says whether the row takes catalog.Save, one row at a time, rather than the bulk upsert:
// options and variants have rules a set-based statement does not check (values of the parent's
// options, unique combinations, at most 100 variants), and a barcode's uniqueness is a refusal
// that names the row only when the row is written alone.
func (r productRecord) saved() bool {
	return r.variant() || r.it.Options != nil || r.it.Barcode != nil
}

func text(cell string) (any, error) { return cell, nil }

func integer(cell string) (any, error) {
	n, err := strconv.ParseInt(cell, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("must be an integer written in plain digits")
	}
	return float64(n), nil // JSON's number, as the schema validator reads it; the bounds are below 2^53
}

func boolean(cell string) (any, error) {
	switch cell {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return nil, fmt.Errorf("must be true or false")
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

// decode re-reads a validated JSON value as the API type it has.
func decode[T any](v any) T {
	var out T
	b, _ := json.Marshal(v)
	_ = json.Unmarshal(b, &out)
	return out
}

// compact is stored JSON written in one line, "" for the empty value.
func compact[T any](raw []byte, empty bool) string {
	var v T
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	b, _ := json.Marshal(v)
	if empty {
		return ""
	}
	return string(b)
}

func optionColumns(k int) []productColumn {
	n := strconv.Itoa(k + 1)
	values := func(p db.Product) api.OptionValues {
		var vs api.OptionValues
		_ = json.Unmarshal(p.OptionValues, &vs)
		return vs
	}
	return []productColumn{
		{name: "option" + n + "Name", property: "name", option: true, value: text,
			set: func(r *productRecord, v any) { r.values[k].Name = str(v) },
			get: func(p db.ProductsExportPageRow) string {
				if vs := values(p.Product); k < len(vs) {
					return vs[k].Name
				}
				return ""
			}},
		{name: "option" + n + "Value", property: "value", option: true, value: text,
			set: func(r *productRecord, v any) { r.values[k].Value = str(v) },
			get: func(p db.ProductsExportPageRow) string {
				if vs := values(p.Product); k < len(vs) {
					return vs[k].Value
				}
				return ""
			}},
	}
}

var productColumns = slices.Concat([]productColumn{
	{name: "sku", required: true, property: "sku", value: text,
		set: func(r *productRecord, v any) { r.it.Sku = str(v) },
		get: func(p db.ProductsExportPageRow) string { return p.Product.Sku }},
	{name: "name", required: true, property: "name", value: text,
		set: func(r *productRecord, v any) { r.it.Name = str(v) },
		get: func(p db.ProductsExportPageRow) string { return p.Product.Name }},
	{name: "priceAmount", required: true, property: "priceAmount", value: integer,
		set: func(r *productRecord, v any) { r.it.PriceAmount = int64(v.(float64)) }, //nolint:forcetypeassert // from integer
		get: func(p db.ProductsExportPageRow) string { return strconv.FormatInt(p.Product.PriceAmount, 10) }},
	// A variant is priced in its product's currency: its row leaves the cell empty.
	{name: "currency", property: "currency", value: text,
		set: func(r *productRecord, v any) { s := str(v); r.it.Currency = &s },
		get: func(p db.ProductsExportPageRow) string {
			if p.ParentSku != "" {
				return ""
			}
			return p.Product.Currency
		}},
	{name: "status", property: "status", value: text,
		set: func(r *productRecord, v any) { s := api.ProductStatus(str(v)); r.it.Status = &s },
		get: func(p db.ProductsExportPageRow) string { return string(p.Product.Status) }},
	{name: "description", property: "description", value: text,
		set: func(r *productRecord, v any) { s := str(v); r.it.Description = &s },
		get: func(p db.ProductsExportPageRow) string {
			if p.Product.Description == nil {
				return ""
			}
			return *p.Product.Description
		}},
	{name: "tags", property: "tags", value: jsonOf("an array of strings"),
		set: func(r *productRecord, v any) { tags := decode[api.Tags](v); r.it.Tags = &tags },
		get: func(p db.ProductsExportPageRow) string {
			if len(p.Product.Tags) == 0 {
				return ""
			}
			b, _ := json.Marshal(p.Product.Tags)
			return string(b)
		}},
	{name: "attributes", property: "attributes", value: jsonOf("an object of strings"),
		set: func(r *productRecord, v any) { attrs := decode[api.Attributes](v); r.it.Attributes = &attrs },
		get: func(p db.ProductsExportPageRow) string {
			if s := string(p.Product.Attributes); s != "{}" && s != "" {
				return s
			}
			return ""
		}},
	// A variant's row names its product by SKU, and its option values in the option columns.
	{name: "parentSku", property: "sku", value: text,
		set: func(r *productRecord, v any) { r.parentSku = str(v) },
		get: func(p db.ProductsExportPageRow) string { return p.ParentSku }},
	// A product's options: the API's options array in JSON
	// ([{"name":"Size","values":["S","M","L"]}]); on a product's row only.
	{name: "options", property: "options", value: jsonOf("an array of options ({name, values})"),
		set: func(r *productRecord, v any) { opts := decode[api.ProductOptions](v); r.it.Options = &opts },
		get: func(p db.ProductsExportPageRow) string {
			return compact[api.ProductOptions](p.Product.Options, len(p.Product.Options) <= 2)
		}},
}, optionColumns(0), optionColumns(1), optionColumns(2), []productColumn{
	{name: "barcode", property: "barcode", value: text,
		set: func(r *productRecord, v any) { s := str(v); r.it.Barcode = &s },
		get: func(p db.ProductsExportPageRow) string {
			if p.Product.Barcode == nil {
				return ""
			}
			return *p.Product.Barcode
		}},
	{name: "weightGrams", property: "weightGrams", value: integer,
		set: func(r *productRecord, v any) { w := int64(v.(float64)); r.it.WeightGrams = &w }, //nolint:forcetypeassert // from integer
		get: func(p db.ProductsExportPageRow) string {
			if p.Product.WeightGrams == nil {
				return ""
			}
			return strconv.FormatInt(*p.Product.WeightGrams, 10)
		}},
	// Orders may take more than is available (the rest waits for receipts): true or false.
	{name: "allowBackorder", property: "allowBackorder", value: boolean,
		set: func(r *productRecord, v any) { b := v.(bool); r.it.AllowBackorder = &b }, //nolint:forcetypeassert // from boolean
		get: func(p db.ProductsExportPageRow) string { return strconv.FormatBool(p.Product.AllowBackorder) }},
	// Images: the API's images array in JSON ([{"url":"https://…","alt":"…"}]).
	{name: "images", property: "images", value: jsonOf("an array of images ({url, alt})"),
		set: func(r *productRecord, v any) { imgs := decode[api.ProductImages](v); r.it.Images = &imgs },
		get: func(p db.ProductsExportPageRow) string {
			return compact[api.ProductImages](p.Product.Images, len(p.Product.Images) <= 2)
		}},
	// Written by the export so that it says which product a row is; the import keys by SKU and
	// ignores them.
	{name: "id", get: func(p db.ProductsExportPageRow) string { return p.Product.ID.String() }},
	{name: "version", get: func(p db.ProductsExportPageRow) string { return strconv.FormatInt(p.Product.Version, 10) }},
	{name: "createdAt", get: func(p db.ProductsExportPageRow) string { return p.Product.CreatedAt.UTC().Format(time.RFC3339Nano) }},
	{name: "updatedAt", get: func(p db.ProductsExportPageRow) string { return p.Product.UpdatedAt.UTC().Format(time.RFC3339Nano) }},
})

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

// productRow maps a record to a productRecord, validated against the API's schemas property by
// property, so that each error names its column.
func (h *Handlers) productRow(hd header, line int, fields []string) (productRecord, []rowError) {
	r := productRecord{line: line}
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
			err = h.validate(c.option, c.property, v)
		}
		if err != nil {
			bad = append(bad, rowError{line, c.name, err.Error()})
			continue
		}
		c.set(&r, v)
	}
	if len(bad) == 0 {
		for _, f := range catalogCheck(r.it) {
			col, msg := columnOf(f.Field), f.Message
			if col != f.Field {
				msg = f.Field + ": " + msg
			}
			bad = append(bad, rowError{line, col, msg})
		}
		bad = append(bad, variantCheck(r)...)
	}
	return r, bad
}

// mapRow maps a record that validation found valid, without validating its cells again.
func (h *Handlers) mapRow(hd header, line int, fields []string) productRecord {
	r := productRecord{line: line}
	for _, c := range productColumns {
		if c.value == nil || !hd.has(c.name) {
			continue
		}
		if cell := hd.cell(fields, c.name); cell != "" {
			if v, err := c.value(cell); err == nil {
				c.set(&r, v)
			}
		}
	}
	return r
}

// variantCheck applies a row's own variant rules: a variant row names one value of each option
// of its product in the option columns, has no options or currency of its own; a product's row
// has no option values.
func variantCheck(r productRecord) []rowError {
	var bad []rowError
	for k, v := range r.values {
		n := strconv.Itoa(k + 1)
		switch {
		case v.Name != "" && v.Value == "":
			bad = append(bad, rowError{r.line, "option" + n + "Value", "is required with option" + n + "Name"})
		case v.Name == "" && v.Value != "":
			bad = append(bad, rowError{r.line, "option" + n + "Name", "is required with option" + n + "Value"})
		case v.Name != "" && !r.variant():
			bad = append(bad, rowError{r.line, "option" + n + "Name", "only a variant's row (with parentSku) has option values"})
		}
	}
	if !r.variant() {
		return bad
	}
	switch {
	case r.parentSku == r.it.Sku:
		bad = append(bad, rowError{r.line, "parentSku", "is the row's own SKU"})
	case r.it.Options != nil:
		bad = append(bad, rowError{r.line, "options", "a variant has no options of its own: it takes one value of each of its product's"})
	case r.it.Currency != nil:
		bad = append(bad, rowError{r.line, "currency", "a variant is priced in its product's currency: leave the cell empty"})
	case r.values[0].Name == "":
		bad = append(bad, rowError{r.line, "option1Name", "a variant's row needs one value of each of its product's options"})
	}
	return bad
}

// validate checks v against CreateProductRequest's property, in the words request validation
// uses.
func (h *Handlers) validate(option bool, property string, v any) error {
	schema := h.product
	if option {
		schema = h.option
	}
	ref := schema.Properties[property]
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
