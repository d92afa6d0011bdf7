package orders

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/inventory"
)

// The amounts an order states besides its lines (issue 21): shipping, discounts and tax lines, on
// the order or on a line, all integer minor units of the order's currency, stored as the client
// states them (no tax or promotion engine). The server only checks and adds them up:
//
//	total = subtotal − discountTotal + shippingTotal + taxTotal
//
// where each sum is checked for int64 overflow (422 amount_overflow, never a wrap) and a discount
// may not take off more than what it applies to (422 discount_too_large).

// DiscountTooLarge: discounts past what they apply to (422), named by the request field.
type DiscountTooLarge struct{ Field string }

func (e *DiscountTooLarge) Error() string { return "discount too large at " + e.Field }

// Code is the refusal's problem code.
func (e *DiscountTooLarge) Code() api.ProblemCode { return api.ProblemCodeDiscountTooLarge }

// totals is what amountsOf computes for an order, per merged line and in all.
type totals struct {
	lineDiscounts [][]api.Discount
	lineTaxes     [][]api.TaxLine
	lineDiscount  []int64
	lineTax       []int64
	discountTotal int64
	taxTotal      int64
	shipping      int64
	total         int64
}

// add is a + b, or false past int64 (both are ≥ 0: the spec's Money minimum).
func add(a, b int64) (int64, bool) {
	if b > math.MaxInt64-a {
		return 0, false
	}
	return a + b, true
}

// describedDiscounts names the first discount with neither a code nor a description (400).
func describedDiscounts(body *api.CreateOrderRequest) *api.FieldError {
	check := func(prefix string, ds *api.Discounts) *api.FieldError {
		if ds == nil {
			return nil
		}
		for k, d := range *ds {
			if d.Code == nil && d.Description == nil {
				return &api.FieldError{Field: prefix + "discounts[" + strconv.Itoa(k) + "].code", Message: "a discount needs a code or a description"}
			}
		}
		return nil
	}
	if bad := check("", body.Discounts); bad != nil {
		return bad
	}
	for i, l := range body.Lines {
		if bad := check("lines["+strconv.Itoa(i)+"].", l.Discounts); bad != nil {
			return bad
		}
	}
	return nil
}

// amountsOf totals body's amounts over the merged lines (lines, priced as lineTotals summing to
// subtotal): request lines naming one product were merged, and so are their discounts and taxes.
func amountsOf(body *api.CreateOrderRequest, lines []inventory.HoldLine, lineTotals []int64, subtotal int64) (totals, error) {
	t := totals{
		lineDiscounts: make([][]api.Discount, len(lines)), lineTaxes: make([][]api.TaxLine, len(lines)),
		lineDiscount: make([]int64, len(lines)), lineTax: make([]int64, len(lines)),
	}
	merged := make(map[uuid.UUID]int, len(lines))
	for j, l := range lines {
		merged[l.Product] = j
	}
	var ok bool
	for i, l := range body.Lines {
		j := merged[l.ProductId]
		field := "lines[" + strconv.Itoa(i) + "]"
		if l.Discounts != nil {
			for _, d := range *l.Discounts {
				t.lineDiscounts[j] = append(t.lineDiscounts[j], d)
				// A line's discounts (its merged ones together) take off at most its total.
				if t.lineDiscount[j], ok = add(t.lineDiscount[j], d.Amount); !ok || t.lineDiscount[j] > lineTotals[j] {
					return totals{}, &DiscountTooLarge{Field: field + ".discounts"}
				}
			}
		}
		if l.TaxLines != nil {
			for _, x := range *l.TaxLines {
				t.lineTaxes[j] = append(t.lineTaxes[j], x)
				if t.lineTax[j], ok = add(t.lineTax[j], x.Amount); !ok {
					return totals{}, &AmountOverflow{Index: i, Field: field + ".taxLines"}
				}
			}
		}
	}
	for j := range lines {
		// Each line's discounts are within its total, and the totals sum to subtotal: no overflow.
		t.discountTotal += t.lineDiscount[j]
		if t.taxTotal, ok = add(t.taxTotal, t.lineTax[j]); !ok {
			return totals{}, &AmountOverflow{Index: lines[j].Index, Field: "lines[" + strconv.Itoa(lines[j].Index) + "].taxLines"}
		}
	}
	if body.Discounts != nil {
		for _, d := range *body.Discounts {
			if t.discountTotal, ok = add(t.discountTotal, d.Amount); !ok || t.discountTotal > subtotal {
				return totals{}, &DiscountTooLarge{Field: "discounts"}
			}
		}
	}
	if body.TaxLines != nil {
		for _, x := range *body.TaxLines {
			if t.taxTotal, ok = add(t.taxTotal, x.Amount); !ok {
				return totals{}, &AmountOverflow{Field: "taxLines"}
			}
		}
	}
	if body.ShippingAmount != nil {
		t.shipping = *body.ShippingAmount
	}
	t.total = subtotal - t.discountTotal // ≥ 0: checked above
	if t.total, ok = add(t.total, t.shipping); !ok {
		return totals{}, &AmountOverflow{Field: "shippingAmount"}
	}
	if t.total, ok = add(t.total, t.taxTotal); !ok {
		return totals{}, &AmountOverflow{Field: "taxLines"}
	}
	return t, nil
}

// jsonArray is v as a JSON array for a jsonb column ([] for nil).
func jsonArray[T any](v []T) []byte {
	if v == nil {
		return []byte("[]")
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and integers always marshal
	}
	return b
}

// fromJSONArray reads a jsonb array column back (empty, never nil).
func fromJSONArray[T any](b []byte) ([]T, error) {
	out := []T{}
	if len(b) == 0 {
		return out, nil
	}
	return out, json.Unmarshal(b, &out)
}

func derefSlice[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
