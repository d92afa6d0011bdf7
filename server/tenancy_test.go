package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// brandOp is one operation of the spec under /brands/{brandId}.
type brandOp struct {
	method, path string
	op           *openapi3.Operation
}

func (o brandOp) String() string { return o.method + " " + o.path }

// brandOps walks openapi.yaml for every operation scoped to a brand, so a new endpoint is covered
// by the isolation and permission tests the day it is added.
func brandOps(t *testing.T) []brandOp {
	t.Helper()
	doc := servertest.Doc(t)
	var ops []brandOp
	for path, item := range doc.Paths.Map() {
		if !strings.Contains(path, "{brandId}") {
			continue
		}
		for method, op := range item.Operations() {
			ops = append(ops, brandOp{method: method, path: path, op: op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	if len(ops) < 10 {
		t.Fatalf("only %d brand-scoped operations found", len(ops))
	}
	return ops
}

// exampleBody is the operation's request example from the spec (nil without a body).
func exampleBody(t *testing.T, op *openapi3.Operation) []byte {
	t.Helper()
	if op.RequestBody == nil {
		return nil
	}
	media := op.RequestBody.Value.Content.Get("application/json")
	if media == nil {
		// A streamed body (a CSV upload): the JSON walks do not apply; server/imports tests it.
		return nil
	}
	ex := media.Example
	if ex == nil {
		ex = media.Schema.Value.Example
	}
	if ex == nil {
		t.Fatalf("%s has no request example", op.OperationID)
	}
	b, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// call sends op with the ids filled in and returns the status.
func call(t *testing.T, env *servertest.Env, o brandOp, ids map[string]string, token string) (int, api.Problem) {
	t.Helper()
	path := o.path
	if pid, ok := ids["parentId"]; ok && strings.Contains(path, "/variants") {
		// The variant routes name a product with options and one of its variants.
		path = strings.ReplaceAll(path, "{productId}", pid)
	}
	for name, id := range ids {
		path = strings.ReplaceAll(path, "{"+name+"}", id)
	}
	body := exampleBody(t, o.op)
	if o.op.OperationID == "bulkUpsertProducts" || o.op.OperationID == "createProduct" {
		// A fresh SKU each time, so a create is never refused as a duplicate.
		body = bytes.ReplaceAll(body, []byte(`"AE-18`), []byte(`"T`+strings.ReplaceAll(uuid.NewString()[:8], "-", "")))
	}
	req, err := http.NewRequest(o.method, env.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if o.op.Extensions["x-idempotency"] == "required" {
		// A fresh key: the walk is about the resource's reach, not the key's requirement.
		req.Header.Set("Idempotency-Key", uuid.NewString())
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var p api.Problem
	if resp.StatusCode >= 400 {
		_ = json.NewDecoder(resp.Body).Decode(&p)
	}
	return resp.StatusCode, p
}

// tenant is a brand with one of everything in it.
type tenant struct {
	owner   api.AuthResponse
	staff   api.AuthResponse
	ids     map[string]string
	product api.Product
}

func newTenant(t *testing.T, env *servertest.Env, name string) tenant {
	t.Helper()
	owner := env.Register(t, servertest.Email(name))
	staff := env.Member(t, owner, api.InvitationRoleSTAFF)
	active := api.Active
	product := createProduct(t, env, owner, api.CreateProductRequest{Sku: name + "-1", Name: name + " product", PriceAmount: 100, Status: &active})
	inv, err := env.Client.CreateInvitationWithResponse(ctx, *owner.User.BrandId,
		api.CreateInvitationJSONRequestBody{Email: openapi_types.Email("pending-" + servertest.Email(name)), Role: api.InvitationRoleMANAGER}, servertest.Bearer(owner.AccessToken))
	if err != nil || inv.JSON201 == nil {
		t.Fatalf("invite: %v %s", err, inv.Body)
	}
	opts := api.ProductOptions{{Name: "Size", Values: []string{"S", "M"}}}
	parent := createProduct(t, env, owner, api.CreateProductRequest{Sku: name + "-TEE", Name: name + " tee", PriceAmount: 100, Status: &active, Options: &opts})
	v, err := env.Client.CreateVariantWithResponse(ctx, *owner.User.BrandId, parent.Id,
		api.CreateVariantRequest{Sku: name + "-TEE-S", PriceAmount: 100, OptionValues: api.OptionValues{{Name: "Size", Value: "S"}}}, servertest.Bearer(owner.AccessToken))
	if err != nil || v.JSON201 == nil {
		t.Fatalf("variant: %v %s", err, v.Body)
	}
	location := createLocation(t, env, owner, strings.ToUpper(name)+"-WH")
	receive(t, env, owner, product.Id, location.Id, 10)
	res, err := env.Client.CreateReservationWithResponse(ctx, *owner.User.BrandId, &api.CreateReservationParams{},
		api.CreateReservationRequest{Lines: []api.ReservationRequestLine{{ProductId: product.Id, Quantity: 1}}}, servertest.Bearer(owner.AccessToken))
	if err != nil || res.JSON201 == nil {
		t.Fatalf("reserve: %v %s", err, res.Body)
	}
	order := env.PlaceOrder(t, owner, product.Id, 1)
	ret := seedReturn(t, env, owner, product.Id)
	key := env.APIKey(t, owner, "inventory:read")
	evs, _ := env.FeedN(t, owner.AccessToken, *owner.User.BrandId, api.ListEventsParams{}, 1)
	endpoint, delivery := seedWebhook(t, env, owner.AccessToken, *owner.User.BrandId, name)
	supplier, po := seedPurchaseOrder(t, env, owner, product.Id, location.Id)
	imp, err := env.Client.CreateImportWithBodyWithResponse(ctx, *owner.User.BrandId, &api.CreateImportParams{Kind: api.ImportKindProducts},
		"text/csv", strings.NewReader("sku,name,priceAmount\n"), servertest.Bearer(owner.AccessToken))
	if err != nil || imp.JSON202 == nil {
		t.Fatalf("import: %v %s", err, imp.Body)
	}
	return tenant{
		owner: owner, staff: staff, product: product,
		ids: map[string]string{
			"brandId":         owner.User.BrandId.String(),
			"productId":       product.Id.String(),
			"parentId":        parent.Id.String(),
			"variantId":       v.JSON201.Id.String(),
			"invitationId":    inv.JSON201.Invitation.Id.String(),
			"userId":          staff.User.Id.String(),
			"locationId":      location.Id.String(),
			"reservationId":   res.JSON201.Id.String(),
			"orderId":         order.Id.String(),
			"keyId":           key.ApiKey.Id.String(),
			"eventId":         evs[0].ID.String(),
			"endpointId":      endpoint,
			"deliveryId":      delivery,
			"customerId":      order.CustomerId.String(),
			"returnId":        ret.Id.String(),
			"supplierId":      supplier,
			"purchaseOrderId": po,
			"importId":        imp.JSON202.Id.String(),
		},
	}
}

// seedReturn places, confirms and ships an order of one unit of product and requests its return.
func seedReturn(t *testing.T, env *servertest.Env, owner api.AuthResponse, product uuid.UUID) api.Return {
	t.Helper()
	b := servertest.StockBrand{Env: env, Owner: owner, Brand: *owner.User.BrandId, Auth: servertest.Bearer(owner.AccessToken)}
	o := b.PlaceOrder(t, product, 1)
	b.ConfirmOrder(t, o.Id)
	b.Fulfil(t, o.Id, api.FulfilmentRequestLine{LineId: o.Lines[0].Id, Quantity: 1})
	return b.MustReturn(t, o.Id, api.ReturnRequestLine{LineId: o.Lines[0].Id, Quantity: 1, Reason: api.ReturnReasonDamaged})
}

// seedPurchaseOrder makes a supplier and an ordered purchase order of product to location, and
// returns their ids.
func seedPurchaseOrder(t *testing.T, env *servertest.Env, owner api.AuthResponse, product, location uuid.UUID) (supplier, po string) {
	t.Helper()
	brand, auth := *owner.User.BrandId, servertest.Bearer(owner.AccessToken)
	s, err := env.Client.CreateSupplierWithResponse(ctx, brand, api.CreateSupplierRequest{Code: "SEED", Name: "Seed supplier", Currency: "USD"}, auth)
	if err != nil || s.JSON201 == nil {
		t.Fatalf("supplier: %v %s", err, s.Body)
	}
	p, err := env.Client.CreatePurchaseOrderWithResponse(ctx, brand, &api.CreatePurchaseOrderParams{}, api.CreatePurchaseOrderRequest{
		SupplierId: s.JSON201.Id, LocationId: location, Lines: []api.PurchaseOrderRequestLine{{ProductId: product, Quantity: 5, UnitCost: 10}},
	}, auth)
	if err != nil || p.JSON201 == nil {
		t.Fatalf("purchase order: %v %s", err, p.Body)
	}
	sub, err := env.Client.SubmitPurchaseOrderWithResponse(ctx, brand, p.JSON201.Id, &api.SubmitPurchaseOrderParams{}, auth)
	if err != nil || sub.JSON200 == nil {
		t.Fatalf("submit: %v %s", err, sub.Body)
	}
	return s.JSON201.Id.String(), p.JSON201.Id.String()
}

// seedWebhook makes a webhook endpoint of brand and one delivery to it (a ping, made at once: no
// worker runs here), and returns their ids.
func seedWebhook(t *testing.T, env *servertest.Env, token string, brand uuid.UUID, name string) (endpoint, delivery string) {
	t.Helper()
	hook, err := env.Client.CreateWebhookEndpointWithResponse(ctx, brand,
		api.CreateWebhookEndpointRequest{Url: "https://hooks.example.com/" + name, EventTypes: []string{"*"}}, servertest.Bearer(token))
	if err != nil || hook.JSON201 == nil {
		t.Fatalf("webhook endpoint: %v %s", err, hook.Body)
	}
	ping, err := env.Client.TestWebhookEndpointWithResponse(ctx, brand, hook.JSON201.Id, servertest.Bearer(token))
	if err != nil || ping.JSON202 == nil {
		t.Fatalf("ping: %v %s", err, ping.Body)
	}
	return hook.JSON201.Id.String(), ping.JSON202.Id.String()
}

func createProduct(t *testing.T, env *servertest.Env, owner api.AuthResponse, body api.CreateProductRequest) api.Product {
	t.Helper()
	return env.CreateProduct(t, owner, body)
}

// TestCrossTenantIsolation calls every brand-scoped operation with brand A's token on brand B's
// ids, both with B's brandId in the path and with A's brandId and B's resource ids: every answer
// is the 404 a missing resource gets, and B is unchanged.
func TestCrossTenantIsolation(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a := newTenant(t, env, "a")
	b := newTenant(t, env, "b")

	for _, o := range brandOps(t) {
		for _, who := range []struct {
			name  string
			token string
		}{{"owner", a.owner.AccessToken}, {"staff", a.staff.AccessToken}} {
			status, p := call(t, env, o, b.ids, who.token)
			if status != http.StatusNotFound || p.Code != api.ProblemCodeNotFound {
				t.Errorf("%s with A's %s on B's brand = %d %s, want 404", o, who.name, status, p.Code)
			}
			if !strings.Contains(o.path, "Id}") || strings.Count(o.path, "{") < 2 {
				continue
			}
			mixed := map[string]string{}
			for k, v := range b.ids {
				mixed[k] = v
			}
			mixed["brandId"] = a.ids["brandId"]
			status, p = call(t, env, o, mixed, a.owner.AccessToken)
			if status != http.StatusNotFound || p.Code != api.ProblemCodeNotFound {
				t.Errorf("%s on A's brand with B's resource ids = %d %s, want 404", o, status, p.Code)
			}
		}
	}

	// B's product is as it was, and B's staff member still works.
	got, err := env.Client.GetProductWithResponse(ctx, *b.owner.User.BrandId, b.product.Id, servertest.Bearer(b.owner.AccessToken))
	if err != nil || got.JSON200 == nil || got.JSON200.Version != 1 || got.JSON200.Name != b.product.Name {
		t.Fatalf("B's product after the attack = %d %s", got.StatusCode(), got.Body)
	}
	if p := env.Profile(t, b.staff.AccessToken); p.StatusCode() != 200 {
		t.Errorf("B's staff member was touched: %d", p.StatusCode())
	}

	// An ADMIN reaches every brand.
	admin := env.Admin(t)
	got, err = env.Client.GetProductWithResponse(ctx, *b.owner.User.BrandId, b.product.Id, servertest.Bearer(admin.AccessToken))
	if err != nil || got.JSON200 == nil {
		t.Fatalf("ADMIN on B's product = %d", got.StatusCode())
	}
}

// TestRoleMatrix checks each brand role against each brand-scoped operation: allowed exactly when
// the role holds the operation's x-permission. Ids of resources that do not exist keep the calls
// harmless: a 404 there still means the permission check let the call through.
func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	owner := env.Register(t, servertest.Email("matrix"))
	roles := map[string]api.AuthResponse{
		"BRAND_OWNER": owner,
		"MANAGER":     env.Member(t, owner, api.InvitationRoleMANAGER),
		"STAFF":       env.Member(t, owner, api.InvitationRoleSTAFF),
	}
	// The expected answers come from the spec's table, not the server's: the test checks the
	// server against what clients are told.
	table := map[string][]string{}
	for role, perms := range servertest.Doc(t).Extensions["x-permissions"].(map[string]any) {
		for _, p := range perms.([]any) {
			table[role] = append(table[role], p.(string))
		}
	}
	ids := map[string]string{
		"brandId":         owner.User.BrandId.String(),
		"productId":       uuid.NewString(),
		"invitationId":    uuid.NewString(),
		"userId":          uuid.NewString(),
		"locationId":      uuid.NewString(),
		"reservationId":   uuid.NewString(),
		"orderId":         uuid.NewString(),
		"keyId":           uuid.NewString(),
		"variantId":       uuid.NewString(),
		"customerId":      uuid.NewString(),
		"returnId":        uuid.NewString(),
		"supplierId":      uuid.NewString(),
		"purchaseOrderId": uuid.NewString(),
		"importId":        uuid.NewString(),
	}
	for _, o := range brandOps(t) {
		perm, _ := o.op.Extensions["x-permission"].(string)
		for role, session := range roles {
			held := false
			for _, p := range table[role] {
				held = held || p == perm
			}
			status, p := call(t, env, o, ids, session.AccessToken)
			switch {
			case held && (status == http.StatusForbidden || status >= 500):
				t.Errorf("%s as %s (holds %s) = %d %s", o, role, perm, status, p.Code)
			case !held && (status != http.StatusForbidden || p.Code != api.ProblemCodeForbidden):
				t.Errorf("%s as %s (lacks %s) = %d %s, want 403", o, role, perm, status, p.Code)
			}
		}
	}
}

// TestRowLevelSecurity proves the database's own isolation, underneath the server's: a statement
// with no brand filter at all, run for brand A, sees none of brand B's rows; with no brand set it
// sees nothing, even as the tables' owner; and it cannot write another brand's row.
func TestRowLevelSecurity(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a := newTenant(t, env, "rls-a")
	b := newTenant(t, env, "rls-b")
	createProduct(t, env, b.owner, api.CreateProductRequest{Sku: "rls-b-2", Name: "second", PriceAmount: 1})

	count := func(conn *pgx.Conn, brand string) (products, invitations int) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if brand != "" {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.brand_id', $1, true)", brand); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM products").Scan(&products); err != nil {
			t.Fatal(err)
		}
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM invitations").Scan(&invitations); err != nil {
			t.Fatal(err)
		}
		return products, invitations
	}

	appConn, err := env.Pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer appConn.Release()
	owner, err := pgx.Connect(ctx, env.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = owner.Close(ctx) }()

	for name, conn := range map[string]*pgx.Conn{"application role": appConn.Conn(), "table owner": owner} {
		// Each tenant has a product, a product with options and its variant; B one more product.
		if p, i := count(conn, a.ids["brandId"]); p != 3 || i != 2 {
			t.Errorf("%s scoped to A sees %d products and %d invitations, want A's 3 and 2", name, p, i)
		}
		if p, i := count(conn, b.ids["brandId"]); p != 4 || i != 2 {
			t.Errorf("%s scoped to B sees %d products and %d invitations, want B's 4 and 2", name, p, i)
		}
		if p, i := count(conn, ""); p != 0 || i != 0 {
			t.Errorf("%s with no brand set sees %d products and %d invitations, want none", name, p, i)
		}
	}

	// Writing B's row while scoped to A is refused by the policy's WITH CHECK.
	tx, err := appConn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT set_config('app.brand_id', $1, true)", a.ids["brandId"]); err != nil {
		t.Fatal(err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO products (brand_id, id, sku, name, price_amount, currency, created_at, updated_at)
		VALUES ($1, $2, 'smuggled', 'x', 1, 'USD', now(), now())`, b.ids["brandId"], uuid.New())
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("a row for B written while scoped to A: %v", err)
	}

	// The role requests run under is subject to the policies.
	var super, bypass bool
	var role string
	if err := env.Pool.QueryRow(ctx, "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&role, &super, &bypass); err != nil {
		t.Fatal(err)
	}
	if role != servertest.AppRole || super || bypass {
		t.Errorf("requests run as %s (superuser %v, bypassrls %v)", role, super, bypass)
	}
}

// TestEveryBrandTableIsUnderRowLevelSecurity keeps new brand-scoped tables from forgetting it.
func TestEveryBrandTableIsUnderRowLevelSecurity(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	rows, err := env.Pool.Query(ctx, `
		SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND a.attname = 'brand_id'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	// users (identity, read at login before any brand is known) is a global table with a brand_id;
	// docs/tenancy.md explains why. idempotency_keys is keyed by the caller (user, operation, key)
	// and read only by that key; its brand_id only counts a brand's stored refusals against their
	// bound, and the store runs outside any brand's scope. api_keys is identity too: a request
	// finds its key by digest before any brand is known (schema/000014).
	global := map[string]bool{"users": true, "idempotency_keys": true, "api_keys": true}
	// product_search_terms (schema/000028) is outside row-level security so that the planner may
	// read its statistics; the application's role has no right on it at all and reads it through
	// a view of one brand's rows (TestSearchTermsAreReadOnlyThroughTheBrandsView).
	unreachable := map[string]bool{"product_search_terms": true}
	seen := 0
	for rows.Next() {
		var name string
		var enabled, forced bool
		if err := rows.Scan(&name, &enabled, &forced); err != nil {
			t.Fatal(err)
		}
		if global[name] {
			continue
		}
		if unreachable[name] {
			var granted bool
			if err := env.Pool.QueryRow(ctx, `SELECT has_table_privilege($1::text, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')`, name).Scan(&granted); err != nil {
				t.Fatal(err)
			}
			if granted {
				t.Errorf("table %s is outside row-level security, and the application's role has a right on it", name)
			}
			continue
		}
		seen++
		if !enabled || !forced {
			t.Errorf("table %s has brand_id but RLS enabled=%v forced=%v", name, enabled, forced)
		}
	}
	if seen < 2 {
		t.Errorf("found %d brand-scoped tables, expected products and invitations at least", seen)
	}
}

// TestSearchTermsAreReadOnlyThroughTheBrandsView attacks the product search's table from the
// application's role, as a statement the server runs could if it were ever subverted: the table
// holds every brand's names and SKUs outside row-level security (schema/000028), so the role may
// not read or write it, may read it only through product_search for the brand its transaction is
// scoped to, may not write through that view, and may not call the triggers' functions.
func TestSearchTermsAreReadOnlyThroughTheBrandsView(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	a := newTenant(t, env, "terms-a")
	b := newTenant(t, env, "terms-b")
	createProduct(t, env, b.owner, api.CreateProductRequest{Sku: "B-SECRET", Name: "B's secret", PriceAmount: 1})

	// inBrand runs f in a transaction of the application's role scoped to brand ("": none) and
	// rolls it back.
	inBrand := func(t *testing.T, brand string, f func(pgx.Tx) error) error {
		t.Helper()
		tx, err := env.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		if brand != "" {
			if _, err := tx.Exec(ctx, "SELECT set_config('app.brand_id', $1, true)", brand); err != nil {
				t.Fatal(err)
			}
		}
		return f(tx)
	}
	skus := func(t *testing.T, brand string) []string {
		t.Helper()
		var got []string
		err := inBrand(t, brand, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, "SELECT search_sku FROM product_search ORDER BY search_sku")
			if err != nil {
				return err
			}
			got, err = pgx.CollectRows(rows, pgx.RowTo[string])
			slices.Sort(got) // byte order, whatever the database's collation
			return err
		})
		if err != nil {
			t.Fatalf("read the view as brand %q: %v", brand, err)
		}
		return got
	}
	denied := func(t *testing.T, what string, err error) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s: %v, want permission denied", what, err)
		}
	}

	t.Run("view shows the scoped brand only", func(t *testing.T) {
		if got, want := skus(t, a.ids["brandId"]), []string{"terms-a-1", "terms-a-TEE", "terms-a-TEE-S"}; !slices.Equal(got, want) {
			t.Errorf("scoped to A, the view shows %v, want %v", got, want)
		}
		if got, want := skus(t, b.ids["brandId"]), []string{"B-SECRET", "terms-b-1", "terms-b-TEE", "terms-b-TEE-S"}; !slices.Equal(got, want) {
			t.Errorf("scoped to B, the view shows %v, want %v", got, want)
		}
		if got := skus(t, ""); len(got) != 0 {
			t.Errorf("with no brand set, the view shows %v", got)
		}
	})
	// Each statement as the app role, scoped to A: the table, writes through the view, and the
	// triggers' functions called directly.
	for group, stmts := range map[string][]string{
		"table": {
			"SELECT count(*) FROM product_search_terms",
			"SELECT name FROM product_search_terms WHERE sku = 'B-SECRET'",
			"UPDATE product_search_terms SET name = 'x'",
			"DELETE FROM product_search_terms",
			"TRUNCATE product_search_terms",
		},
		"writes through the view": {
			"INSERT INTO product_search (search_id, search_name, search_sku) VALUES (gen_random_uuid(), 'planted', 'PLANTED')",
			"UPDATE product_search SET search_name = 'renamed'",
			"DELETE FROM product_search",
		},
		"trigger functions": {
			"SELECT product_search_terms_added()",
			"SELECT product_search_terms_changed()",
		},
	} {
		t.Run(group, func(t *testing.T) {
			for _, stmt := range stmts {
				t.Run(stmt, func(t *testing.T) {
					denied(t, stmt, inBrand(t, a.ids["brandId"], func(tx pgx.Tx) error {
						_, err := tx.Exec(ctx, stmt)
						return err
					}))
				})
			}
		})
	}
}

func createLocation(t *testing.T, env *servertest.Env, owner api.AuthResponse, code string) api.StockLocation {
	t.Helper()
	resp, err := env.Client.CreateLocationWithResponse(ctx, *owner.User.BrandId, api.CreateLocationRequest{Code: code, Name: code + " warehouse"}, servertest.Bearer(owner.AccessToken))
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("create location %s: %v %d %s", code, err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

func receive(t *testing.T, env *servertest.Env, owner api.AuthResponse, product, location uuid.UUID, n int64) api.StockChange {
	t.Helper()
	resp, err := env.Client.CreateStockAdjustmentWithResponse(ctx, *owner.User.BrandId, &api.CreateStockAdjustmentParams{}, api.StockAdjustmentRequest{
		Kind: api.AdjustmentReceipt, Lines: []api.StockAdjustmentLine{{ProductId: product, LocationId: location, Delta: n}},
	}, servertest.Bearer(owner.AccessToken))
	if err != nil || resp.JSON201 == nil {
		t.Fatalf("receive: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}
