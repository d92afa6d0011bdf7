package purchasing_test

import (
	"net/http"
	"testing"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestSuppliers: codes are unique per brand; a supplier no PO names is deleted, one that is named
// is archived instead (and takes no new PO); If-Match guards changes.
func TestSuppliers(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	b := newBuyer(t, env, "supp")
	dup, _ := env.Client.CreateSupplierWithResponse(ctx, b.Brand, api.CreateSupplierRequest{Code: "ACME", Name: "Other", Currency: "EUR"}, b.Auth)
	if dup.StatusCode() != http.StatusConflict || dup.ApplicationproblemJSON409.Code != api.ProblemCodeSupplierCodeTaken {
		t.Errorf("duplicate code: %d %s", dup.StatusCode(), dup.Body)
	}
	lead := int32(7)
	spare, _ := env.Client.CreateSupplierWithResponse(ctx, b.Brand, api.CreateSupplierRequest{Code: "SPARE", Name: "Spare", Currency: "EUR", LeadTimeDays: &lead}, b.Auth)
	if spare.JSON201 == nil || *spare.JSON201.LeadTimeDays != 7 {
		t.Fatalf("create: %d %s", spare.StatusCode(), spare.Body)
	}
	stale := `"7"`
	upd, _ := env.Client.UpdateSupplierWithResponse(ctx, b.Brand, spare.JSON201.Id, &api.UpdateSupplierParams{IfMatch: &stale}, api.UpdateSupplierRequest{Name: ptr("Spare parts")}, b.Auth)
	if upd.StatusCode() != http.StatusPreconditionFailed {
		t.Errorf("stale update: %d", upd.StatusCode())
	}
	upd, _ = env.Client.UpdateSupplierWithResponse(ctx, b.Brand, spare.JSON201.Id, &api.UpdateSupplierParams{}, api.UpdateSupplierRequest{Name: ptr("Spare parts")}, b.Auth)
	if upd.JSON200 == nil || upd.JSON200.Name != "Spare parts" || upd.JSON200.Version != 2 || *upd.JSON200.LeadTimeDays != 7 {
		t.Errorf("update: %d %s", upd.StatusCode(), upd.Body)
	}
	del, _ := env.Client.DeleteSupplierWithResponse(ctx, b.Brand, spare.JSON201.Id, &api.DeleteSupplierParams{}, b.Auth)
	if del.StatusCode() != http.StatusNoContent {
		t.Errorf("delete an unused supplier: %d %s", del.StatusCode(), del.Body)
	}

	p := b.Product(t, "SUPP")
	wh := b.Location(t, "WH")
	b.draft(t, wh.Id, pl(p.Id, 1, 1))
	del, _ = env.Client.DeleteSupplierWithResponse(ctx, b.Brand, b.supplier.Id, &api.DeleteSupplierParams{}, b.Auth)
	if del.JSON200 == nil || del.JSON200.ArchivedAt == nil {
		t.Fatalf("delete a named supplier: %d %s", del.StatusCode(), del.Body)
	}
	po, _ := env.Client.CreatePurchaseOrderWithResponse(ctx, b.Brand, &api.CreatePurchaseOrderParams{},
		api.CreatePurchaseOrderRequest{SupplierId: b.supplier.Id, LocationId: wh.Id, Lines: []api.PurchaseOrderRequestLine{pl(p.Id, 1, 1)}}, b.Auth)
	if po.StatusCode() != http.StatusUnprocessableEntity || po.ApplicationproblemJSON422.Code != api.ProblemCodeSupplierArchived {
		t.Errorf("PO to an archived supplier: %d %s", po.StatusCode(), po.Body)
	}
	list, _ := env.Client.ListSuppliersWithResponse(ctx, b.Brand, &api.ListSuppliersParams{}, b.Auth)
	all, _ := env.Client.ListSuppliersWithResponse(ctx, b.Brand, &api.ListSuppliersParams{IncludeArchived: ptr(true)}, b.Auth)
	if list.JSON200 == nil || len(list.JSON200.Items) != 0 || all.JSON200 == nil || len(all.JSON200.Items) != 1 {
		t.Errorf("lists: %s / %s", list.Body, all.Body)
	}
	// A currency the products are not priced in is refused (costs are kept in the product's).
	eur, _ := env.Client.CreateSupplierWithResponse(ctx, b.Brand, api.CreateSupplierRequest{Code: "EURO", Name: "Euro", Currency: "EUR"}, b.Auth)
	po, _ = env.Client.CreatePurchaseOrderWithResponse(ctx, b.Brand, &api.CreatePurchaseOrderParams{},
		api.CreatePurchaseOrderRequest{SupplierId: eur.JSON201.Id, LocationId: wh.Id, Lines: []api.PurchaseOrderRequestLine{pl(p.Id, 1, 1)}}, b.Auth)
	if po.StatusCode() != http.StatusUnprocessableEntity || po.ApplicationproblemJSON422.Code != api.ProblemCodeCurrencyMismatch {
		t.Errorf("PO in EUR of a USD product: %d %s", po.StatusCode(), po.Body)
	}
}
