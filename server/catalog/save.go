package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// The one place a product or a variant is created or changed field by field: the product and
// variant routes call Save, and so can an importer (CSV) that creates or updates by SKU. It
// checks what the schema cannot (GTIN check digits, image URLs, option rules), keeps the
// variants' copies of their parent (option names and values, currency) in step, maps the unique
// keys to their problems, and emits the product.* events, all in the caller's transaction.

// Item is a product or a variant as a write gives it. A nil (or unspecified) field is left out:
// on update it keeps the stored value, on create it takes its default.
type Item struct {
	Sku         *string
	Name        *string
	Description nullable.Nullable[string]
	PriceAmount *int64
	Currency    *string
	Status      *api.ProductStatus
	Attributes  *api.Attributes
	Tags        *api.Tags
	// Options replaces a product's options (not a variant's: it has none).
	Options *[]api.ProductOptionInput
	// OptionValues is a variant's combination (one value per option of its parent).
	OptionValues *api.OptionValues
	Images       *api.ProductImages
	Barcode      nullable.Nullable[string]
	WeightGrams  nullable.Nullable[int64]
	// AllowBackorder: orders may take more than is available (the rest waits for receipts).
	AllowBackorder *bool
}

// SaveMode says what Save does with the product it is given.
type SaveMode int

const (
	// Create adds a product (or, with Target.Parent, a variant); its SKU must be free.
	Create SaveMode = iota
	// Update changes the product Target.ID (a variant of Target.Parent when that is set).
	Update
	// Upsert updates the product whose SKU is Item.Sku, or creates it (with Target.Parent, as a
	// variant of it) when there is none: what an import by SKU does.
	Upsert
)

// Target is the product Save writes.
type Target struct {
	Mode SaveMode
	// ID is the product to update (Update).
	ID uuid.UUID
	// Parent, when set, makes the product a variant of this one (Create, Upsert), or requires the
	// product updated to be one of its variants (Update: another product's variant is not found).
	Parent *uuid.UUID
	// ExpectedVersions, when set (If-Match), is the versions an update may apply to.
	ExpectedVersions []int64
}

// Saved is what Save wrote.
type Saved struct {
	Product db.Product
	// Created: the product was created (else updated).
	Created bool
	// Summary is the product's variant count and price range (parents only).
	Summary *summary
}

// maxVariants is how many variants a product may have.
const maxVariants = 100

// Save creates or updates one product or variant in q's transaction (which must be scoped to
// brand), emitting its product.created or product.updated event (and a product.updated for each
// variant a parent's change rewrote). Its refusals are problem errors whose fields are named as
// the product routes name them (`barcode`, `options[1].values`, `optionValues`); any other error is
// unexpected. now is the time of the change.
func (h *Handlers) Save(ctx context.Context, q *db.Queries, brand uuid.UUID, t Target, it Item) (Saved, error) {
	if bad := checkItem(it); len(bad) > 0 {
		return Saved{}, problem.RefuseFields(bad)
	}
	var cur db.Product
	var err error
	switch t.Mode {
	case Create:
		return h.create(ctx, q, brand, t, it)
	case Upsert:
		if it.Sku == nil {
			return Saved{}, problem.RefuseField("sku", "is required")
		}
		cur, err = q.ProductLockBySku(ctx, db.ProductLockBySkuParams{BrandID: brand, Sku: *it.Sku})
		if kit.NoRows(err) {
			return h.create(ctx, q, brand, t, it)
		}
		if err == nil && !sameParent(cur.ParentID, t.Parent) {
			return Saved{}, skuTaken(*it.Sku)
		}
	case Update:
		cur, err = q.ProductLock(ctx, db.ProductLockParams{BrandID: brand, ID: t.ID})
		if err == nil && t.Parent != nil && !sameParent(cur.ParentID, t.Parent) {
			err = kit.ErrNotFound
		}
	}
	if err != nil {
		return Saved{}, kit.DBError(err)
	}
	if t.ExpectedVersions != nil && !slices.Contains(t.ExpectedVersions, cur.Version) {
		return Saved{}, kit.ErrStale
	}
	return h.update(ctx, q, brand, cur, it)
}

func sameParent(a, b *uuid.UUID) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// create inserts the item as a product, or as a variant of t.Parent.
func (h *Handlers) create(ctx context.Context, q *db.Queries, brand uuid.UUID, t Target, it Item) (Saved, error) {
	var bad []api.FieldError
	if it.Sku == nil {
		bad = append(bad, api.FieldError{Field: "sku", Message: "is required"})
	}
	if it.PriceAmount == nil {
		bad = append(bad, api.FieldError{Field: "priceAmount", Message: "is required"})
	}
	if it.Name == nil && t.Parent == nil {
		bad = append(bad, api.FieldError{Field: "name", Message: "is required"})
	}
	if len(bad) > 0 {
		return Saved{}, problem.RefuseFields(bad)
	}
	p := db.ProductCreateParams{
		BrandID: brand, ID: uuid.Must(uuid.NewV7()), Sku: *it.Sku, PriceAmount: *it.PriceAmount,
		Currency: it.Currency, Status: db.ProductStatusDraft, Options: []byte("[]"), OptionValues: []byte("[]"),
		Images: []byte("[]"), Tags: tagsOrEmpty(it.Tags), Now: h.d.Now(),
		AllowBackorder: it.AllowBackorder != nil && *it.AllowBackorder,
	}
	if it.Name != nil {
		p.Name = *it.Name
	}
	if it.Description.IsSpecified() && !it.Description.IsNull() {
		d := it.Description.MustGet()
		p.Description = &d
	}
	var err error
	if p.Attributes, err = attributesJSON(it.Attributes); err != nil {
		return Saved{}, err
	}
	if it.Images != nil {
		if p.Images, err = json.Marshal(*it.Images); err != nil {
			return Saved{}, err
		}
	}
	if it.Barcode.IsSpecified() && !it.Barcode.IsNull() {
		b := it.Barcode.MustGet()
		p.Barcode = &b
	}
	if it.WeightGrams.IsSpecified() && !it.WeightGrams.IsNull() {
		w := it.WeightGrams.MustGet()
		p.WeightGrams = &w
	}
	if t.Parent == nil {
		if it.OptionValues != nil {
			return Saved{}, problem.RefuseField("optionValues", "only a variant has option values: create it under its product's variants")
		}
		if it.Options != nil {
			opts, bad := newOptions(*it.Options, nil, false)
			if len(bad) > 0 {
				return Saved{}, problem.RefuseFields(bad)
			}
			if p.Options, err = json.Marshal(opts); err != nil {
				return Saved{}, err
			}
		}
	} else {
		parent, err := q.ProductLock(ctx, db.ProductLockParams{BrandID: brand, ID: *t.Parent})
		if err != nil {
			return Saved{}, kit.DBError(err)
		}
		if it.Options != nil {
			return Saved{}, problem.RefuseField("options", "a variant has no options of its own: it takes one value of each of its product's")
		}
		if it.Currency != nil {
			return Saved{}, problem.RefuseField("currency", "a variant is priced in its product's currency")
		}
		opts, err := decodeOptions(parent.Options)
		if err != nil {
			return Saved{}, err
		}
		if parent.ParentID != nil || len(opts) == 0 {
			return Saved{}, problem.Refuse(api.ProblemCodeOptionsRequired, "Variants need a product that declares options (PATCH its options first); a variant has no variants.")
		}
		if it.OptionValues == nil {
			return Saved{}, problem.RefuseField("optionValues", "is required: one value of each of the product's options")
		}
		values, bad := matchOptionValues(opts, *it.OptionValues)
		if len(bad) > 0 {
			return Saved{}, problem.RefuseFields(bad)
		}
		n, err := q.VariantCount(ctx, db.VariantCountParams{BrandID: brand, ParentID: &parent.ID})
		if err != nil {
			return Saved{}, err
		}
		if n >= maxVariants {
			return Saved{}, problem.Refuse(api.ProblemCodeVariantLimit, fmt.Sprintf("The product has its %d variants already.", maxVariants))
		}
		if p.OptionValues, err = json.Marshal(values); err != nil {
			return Saved{}, err
		}
		p.ParentID, p.Currency, p.Status = &parent.ID, &parent.Currency, db.ProductStatusActive
		if it.Name == nil {
			p.Name = variantName(parent.Name, values)
		}
	}
	if it.Status != nil {
		p.Status = db.ProductStatus(*it.Status)
	}
	row, err := q.ProductCreate(ctx, p)
	if err != nil {
		return Saved{}, uniqueRefusal(err, p.Sku, p.Barcode)
	}
	var sum *summary
	if len(p.Options) > 2 {
		sum = &summary{}
	}
	if err := h.emit(ctx, q, brand, api.EventTypeProductCreated, row, sum); err != nil {
		return Saved{}, err
	}
	return Saved{Product: row, Created: true, Summary: sum}, nil
}

// variantName is a variant's default name: its product's, then its values ("T-shirt / M / Black"),
// cut to the 200 characters a name may have.
func variantName(parent string, values api.OptionValues) string {
	parts := []string{parent}
	for _, v := range values {
		parts = append(parts, v.Value)
	}
	name := []rune(strings.Join(parts, " / "))
	if len(name) > 200 {
		name = name[:200]
	}
	return string(name)
}

// update merges it into the locked product cur and writes it.
func (h *Handlers) update(ctx context.Context, q *db.Queries, brand uuid.UUID, cur db.Product, it Item) (Saved, error) {
	p := db.ProductSaveParams{
		BrandID: brand, ID: cur.ID, Sku: cur.Sku, Name: cur.Name, Description: cur.Description,
		PriceAmount: cur.PriceAmount, Currency: cur.Currency, Status: cur.Status, Attributes: cur.Attributes,
		Tags: cur.Tags, Options: cur.Options, OptionValues: cur.OptionValues, Images: cur.Images,
		Barcode: cur.Barcode, WeightGrams: cur.WeightGrams, AllowBackorder: cur.AllowBackorder, Now: h.d.Now(),
	}
	if it.AllowBackorder != nil {
		p.AllowBackorder = *it.AllowBackorder
	}
	if it.Sku != nil {
		p.Sku = *it.Sku
	}
	if it.Name != nil {
		p.Name = *it.Name
	}
	if it.Description.IsSpecified() {
		p.Description = nil
		if !it.Description.IsNull() {
			d := it.Description.MustGet()
			p.Description = &d
		}
	}
	if it.PriceAmount != nil {
		p.PriceAmount = *it.PriceAmount
	}
	if it.Currency != nil {
		p.Currency = *it.Currency
	}
	if it.Status != nil {
		p.Status = db.ProductStatus(*it.Status)
	}
	var err error
	if it.Attributes != nil {
		if p.Attributes, err = attributesJSON(it.Attributes); err != nil {
			return Saved{}, err
		}
	}
	if it.Tags != nil {
		p.Tags = tagsOrEmpty(it.Tags)
	}
	if it.Images != nil {
		if p.Images, err = json.Marshal(*it.Images); err != nil {
			return Saved{}, err
		}
	}
	if it.Barcode.IsSpecified() {
		p.Barcode = nil
		if !it.Barcode.IsNull() {
			b := it.Barcode.MustGet()
			p.Barcode = &b
		}
	}
	if it.WeightGrams.IsSpecified() {
		p.WeightGrams = nil
		if !it.WeightGrams.IsNull() {
			w := it.WeightGrams.MustGet()
			p.WeightGrams = &w
		}
	}

	var rewrites []db.VariantRewriteParams
	if cur.ParentID != nil {
		if it.Options != nil {
			return Saved{}, problem.RefuseField("options", "a variant has no options of its own: change its product's")
		}
		if it.Currency != nil && *it.Currency != cur.Currency {
			return Saved{}, problem.RefuseField("currency", "a variant is priced in its product's currency")
		}
		if it.OptionValues != nil {
			// The parent's options as committed; a concurrent change of them locks this variant
			// before rewriting it, so it sees the values written here (see rewriteVariants).
			parent, err := q.ProductGet(ctx, db.ProductGetParams{BrandID: brand, ID: *cur.ParentID})
			if err != nil {
				return Saved{}, err
			}
			opts, err := decodeOptions(parent.Options)
			if err != nil {
				return Saved{}, err
			}
			values, bad := matchOptionValues(opts, *it.OptionValues)
			if len(bad) > 0 {
				return Saved{}, problem.RefuseFields(bad)
			}
			if p.OptionValues, err = json.Marshal(values); err != nil {
				return Saved{}, err
			}
		}
	} else {
		if it.OptionValues != nil {
			return Saved{}, problem.RefuseField("optionValues", "only a variant has option values")
		}
		if it.Options != nil || it.Currency != nil {
			if rewrites, err = h.parentChange(ctx, q, brand, cur, it, &p); err != nil {
				return Saved{}, err
			}
		}
	}

	row, err := q.ProductSave(ctx, p)
	if err != nil {
		return Saved{}, uniqueRefusal(err, p.Sku, p.Barcode)
	}
	for _, rw := range rewrites {
		v, err := q.VariantRewrite(ctx, rw)
		if err != nil {
			return Saved{}, err
		}
		if err := h.emit(ctx, q, brand, api.EventTypeProductUpdated, v, nil); err != nil {
			return Saved{}, err
		}
	}
	var sum *summary
	if len(row.Options) > 2 {
		if sum, err = summaryOf(ctx, q, brand, row.ID); err != nil {
			return Saved{}, err
		}
	}
	if err := h.emit(ctx, q, brand, api.EventTypeProductUpdated, row, sum); err != nil {
		return Saved{}, err
	}
	return Saved{Product: row, Summary: sum}, nil
}

// parentChange applies a change of options or currency to a product that is not a variant: it
// sets p's options and returns the rewrites its variants need (option names and values,
// currency), refusing a change that would leave a variant without a value of each option.
func (h *Handlers) parentChange(ctx context.Context, q *db.Queries, brand uuid.UUID, cur db.Product, it Item, p *db.ProductSaveParams) ([]db.VariantRewriteParams, error) {
	old, err := decodeOptions(cur.Options)
	if err != nil {
		return nil, err
	}
	opts := old
	if it.Options != nil {
		var bad []api.FieldError
		if opts, bad = newOptions(*it.Options, old, true); len(bad) > 0 {
			return nil, problem.RefuseFields(bad)
		}
		if p.Options, err = json.Marshal(opts); err != nil {
			return nil, err
		}
		if len(old) == 0 && len(opts) > 0 {
			// A parent is not sellable: its stock and order lines would name an item no one can
			// sell or ship any more. The lock taken on cur excludes a concurrent first stocking.
			used, err := q.ProductStockedOrOrdered(ctx, db.ProductStockedOrOrderedParams{BrandID: brand, ID: cur.ID})
			if err != nil {
				return nil, err
			}
			if used {
				return nil, problem.Refuse(api.ProblemCodeProductInUse, "The product was stocked or ordered, so it cannot become a product with variants: create a new product for them and archive this one.")
			}
		}
	}
	if len(old) == 0 {
		return nil, nil // no variants to rewrite
	}
	variants, err := q.VariantsLock(ctx, db.VariantsLockParams{BrandID: brand, ParentID: &cur.ID})
	if err != nil {
		return nil, err
	}
	if len(variants) > 0 && len(opts) != len(old) {
		return nil, problem.Refuse(api.ProblemCodeOptionsInUse, "The product has variants: its options keep their number and order (each variant has one value of each).")
	}
	var out []db.VariantRewriteParams
	for _, v := range variants {
		var values api.OptionValues
		if err := json.Unmarshal(v.OptionValues, &values); err != nil {
			return nil, fmt.Errorf("variant %s option values: %w", v.ID, err)
		}
		next := make(api.OptionValues, len(values))
		for i, val := range values {
			value := val.Value
			if it.Options != nil {
				if r := (*it.Options)[i].Renames; r != nil {
					if to, ok := (*r)[value]; ok {
						value = to
					}
				}
				if !slices.Contains(opts[i].Values, value) {
					return nil, problem.Refuse(api.ProblemCodeOptionsInUse, fmt.Sprintf("Variant %s has %s %q: keep the value, or rename it with renames.", v.Sku, opts[i].Name, val.Value))
				}
			}
			next[i] = api.OptionValue{Name: opts[i].Name, Value: value}
		}
		raw, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		if string(raw) != string(v.OptionValues) || v.Currency != p.Currency {
			out = append(out, db.VariantRewriteParams{BrandID: brand, ID: v.ID, OptionValues: raw, Currency: p.Currency, Now: p.Now})
		}
	}
	return out, nil
}

// newOptions checks options given for a product whose options were old: distinct names (case
// aside), and renames that name a value it had and a value it will have.
func newOptions(in []api.ProductOptionInput, old api.ProductOptions, renames bool) (api.ProductOptions, []api.FieldError) {
	var bad []api.FieldError
	out := make(api.ProductOptions, len(in))
	seen := map[string]int{}
	for i, o := range in {
		field := fmt.Sprintf("options[%d]", i)
		if j, ok := seen[strings.ToLower(o.Name)]; ok {
			bad = append(bad, api.FieldError{Field: field + ".name", Message: fmt.Sprintf("repeats the name of options[%d]", j)})
		}
		seen[strings.ToLower(o.Name)] = i
		out[i] = api.ProductOption{Name: o.Name, Values: o.Values}
		if o.Renames == nil {
			continue
		}
		if !renames {
			bad = append(bad, api.FieldError{Field: field + ".renames", Message: "a new product has no values to rename"})
			continue
		}
		for from, to := range *o.Renames {
			switch {
			case i >= len(old) || !slices.Contains(old[i].Values, from):
				bad = append(bad, api.FieldError{Field: field + ".renames", Message: fmt.Sprintf("%q is not a value of this option", from)})
			case !slices.Contains(o.Values, to):
				bad = append(bad, api.FieldError{Field: field + ".renames", Message: fmt.Sprintf("%q (the new name of %q) must be in values", to, from)})
			case slices.Contains(old[i].Values, to) && to != from:
				bad = append(bad, api.FieldError{Field: field + ".renames", Message: fmt.Sprintf("%q is a value already: two values cannot become one", to)})
			}
		}
	}
	slices.SortStableFunc(bad, func(a, b api.FieldError) int { return strings.Compare(a.Field, b.Field) })
	return out, bad
}

// matchOptionValues orders a variant's values as its product's options and checks there is one
// value of each, among the option's values.
func matchOptionValues(opts api.ProductOptions, given api.OptionValues) (api.OptionValues, []api.FieldError) {
	var bad []api.FieldError
	byName := map[string]int{}
	for i, v := range given {
		field := fmt.Sprintf("optionValues[%d]", i)
		k := slices.IndexFunc(opts, func(o api.ProductOption) bool { return o.Name == v.Name })
		switch {
		case k < 0:
			bad = append(bad, api.FieldError{Field: field + ".name", Message: fmt.Sprintf("the product has no option %q", v.Name)})
			continue
		case !slices.Contains(opts[k].Values, v.Value):
			bad = append(bad, api.FieldError{Field: field + ".value", Message: fmt.Sprintf("%q is not a value of %s (%s)", v.Value, v.Name, strings.Join(opts[k].Values, ", "))})
		}
		if j, ok := byName[v.Name]; ok {
			bad = append(bad, api.FieldError{Field: field + ".name", Message: fmt.Sprintf("repeats optionValues[%d]", j)})
		}
		byName[v.Name] = i
	}
	if len(bad) == 0 && len(byName) != len(opts) {
		var missing []string
		for _, o := range opts {
			if _, ok := byName[o.Name]; !ok {
				missing = append(missing, o.Name)
			}
		}
		bad = append(bad, api.FieldError{Field: "optionValues", Message: "needs a value of each option; missing: " + strings.Join(missing, ", ")})
	}
	if len(bad) > 0 {
		return nil, bad
	}
	out := make(api.OptionValues, len(opts))
	for i, o := range opts {
		out[i] = api.OptionValue{Name: o.Name, Value: given[byName[o.Name]].Value}
	}
	return out, nil
}

// checkItem applies the rules a schema cannot state: attribute names, the barcode's check digit,
// image URLs.
func checkItem(it Item) []api.FieldError {
	bad := checkProduct("", it.Currency, it.Attributes)
	if it.Barcode.IsSpecified() && !it.Barcode.IsNull() && !ValidGTIN(it.Barcode.MustGet()) {
		bad = append(bad, api.FieldError{Field: "barcode", Message: "is not a GTIN-8, -12, -13 or -14 with a valid check digit"})
	}
	spaced := func(field, s string) {
		if strings.TrimSpace(s) != s {
			bad = append(bad, api.FieldError{Field: field, Message: "must have no white space at either end"})
		}
	}
	if it.Options != nil {
		for i, o := range *it.Options {
			spaced(fmt.Sprintf("options[%d].name", i), o.Name)
			for j, v := range o.Values {
				spaced(fmt.Sprintf("options[%d].values[%d]", i, j), v)
			}
			if o.Renames != nil {
				for _, to := range *o.Renames {
					spaced(fmt.Sprintf("options[%d].renames", i), to)
				}
			}
		}
	}
	if it.OptionValues != nil {
		for i, v := range *it.OptionValues {
			spaced(fmt.Sprintf("optionValues[%d].name", i), v.Name)
			spaced(fmt.Sprintf("optionValues[%d].value", i), v.Value)
		}
	}
	if it.Images != nil {
		for i, img := range *it.Images {
			if msg := checkImageURL(img.Url); msg != "" {
				bad = append(bad, api.FieldError{Field: fmt.Sprintf("images[%d].url", i), Message: msg})
			}
		}
	}
	return bad
}

// checkImageURL says what is wrong with an image URL ("" when nothing): clients put it in an
// <img src>, so it must be an absolute https URL to a host, without credentials in it.
func checkImageURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case strings.ContainsFunc(s, unicode.IsSpace):
		return "must not contain white space"
	case err != nil:
		return "is not a URL"
	case u.Scheme != "https":
		return "must be an https URL"
	case u.Host == "" || u.Hostname() == "":
		return "must name a host"
	case u.User != nil:
		return "must not carry user information"
	}
	return ""
}

// uniqueRefusal maps a write's unique violations to their problems.
func uniqueRefusal(err error, sku string, barcode *string) error {
	switch {
	case kit.IsConflict(err, "products_sku_key"):
		return skuTaken(sku)
	case kit.IsConflict(err, "products_barcode_key") && barcode != nil:
		return problem.Refuse(api.ProblemCodeBarcodeTaken, fmt.Sprintf("Another product of this brand has barcode %s.", *barcode))
	case kit.IsConflict(err, "products_option_values_key"):
		return problem.Refuse(api.ProblemCodeOptionValuesTaken, "Another variant of the product has these option values.")
	}
	return err
}

// summary is a parent's variant count and price range.
type summary struct {
	count    int32
	min, max int64
}

func summaryOf(ctx context.Context, q *db.Queries, brand, id uuid.UUID) (*summary, error) {
	m, err := summaries(ctx, q, brand, []uuid.UUID{id})
	if err != nil {
		return nil, err
	}
	s := m[id]
	return &s, nil
}

// summaries are the variant counts and price ranges of the given parents (absent: none).
func summaries(ctx context.Context, q *db.Queries, brand uuid.UUID, parents []uuid.UUID) (map[uuid.UUID]summary, error) {
	out := map[uuid.UUID]summary{}
	if len(parents) == 0 {
		return out, nil
	}
	rows, err := q.VariantSummaries(ctx, db.VariantSummariesParams{BrandID: brand, ParentIds: parents})
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ParentID] = summary{count: int32(r.Variants), min: r.MinPrice, max: r.MaxPrice} //nolint:gosec // at most 100
	}
	return out, nil
}

func decodeOptions(raw []byte) (api.ProductOptions, error) {
	var opts api.ProductOptions
	if len(raw) <= 2 {
		return opts, nil
	}
	err := json.Unmarshal(raw, &opts)
	return opts, err
}
