package orders

import (
	"math"
	"math/big"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/inventory"
)

// FuzzOrderAmounts: whatever amounts a client states (each a Money: 0..MaxInt64), amountsOf either
// refuses them or its total is exactly subtotal − discounts + shipping + tax, computed without
// overflow (checked here in big integers), and its discounts never exceed what they apply to.
func FuzzOrderAmounts(f *testing.F) {
	f.Add(int64(5997), int64(500), int64(1000), int64(499), int64(700), int64(100))
	f.Add(int64(math.MaxInt64), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(math.MaxInt64-10), int64(3), int64(1), int64(7), int64(2), int64(1))
	f.Add(int64(10), int64(11), int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(1), int64(0), int64(0), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, lineTotal, lineDiscount, orderDiscount, shipping, lineTax, orderTax int64) {
		if lineTotal < 0 || lineDiscount < 0 || orderDiscount < 0 || shipping < 0 || lineTax < 0 || orderTax < 0 {
			return // the spec's Money minimum refuses these before a handler runs
		}
		code := "X"
		product := uuid.New()
		body := &api.CreateOrderRequest{
			Lines: []api.OrderRequestLine{{
				ProductId: product, Quantity: 1,
				Discounts: &api.Discounts{{Code: &code, Amount: lineDiscount}},
				TaxLines:  &api.TaxLines{{Name: "VAT", Amount: lineTax}},
			}},
			Discounts:      &api.Discounts{{Code: &code, Amount: orderDiscount}},
			TaxLines:       &api.TaxLines{{Name: "VAT", Amount: orderTax}},
			ShippingAmount: &shipping,
		}
		got, err := amountsOf(body, []inventory.HoldLine{{Product: product, Quantity: 1}}, []int64{lineTotal}, lineTotal)
		b := func(v int64) *big.Int { return big.NewInt(v) }
		want := new(big.Int).Sub(b(lineTotal), b(lineDiscount))
		want.Sub(want, b(orderDiscount)).Add(want, b(shipping)).Add(want, b(lineTax)).Add(want, b(orderTax))
		fits := want.IsInt64() && lineDiscount <= lineTotal && new(big.Int).Add(b(lineDiscount), b(orderDiscount)).Cmp(b(lineTotal)) <= 0 &&
			new(big.Int).Add(b(lineTax), b(orderTax)).IsInt64()
		if err != nil {
			if fits {
				t.Fatalf("refused %v, though everything fits: total %v", err, want)
			}
			return
		}
		if !fits || got.total != want.Int64() || got.discountTotal != lineDiscount+orderDiscount || got.taxTotal != lineTax+orderTax {
			t.Fatalf("accepted: total %d discounts %d tax %d, want %v (fits %v)", got.total, got.discountTotal, got.taxTotal, want, fits)
		}
	})
}
