package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/servertest"
)

// TestContractGenerated is this repository's Schemathesis (which cannot be installed here): for
// every operation of openapi.yaml it generates requests from the spec itself against a running
// server with a seeded brand (a product, locations, stock, orders, a reservation, an invitation,
// a member, a second session) and checks every answer:
//   - never a 5xx;
//   - servertest's validating transport: a documented status, a body and headers that validate
//     against the spec (kin-openapi plus the strict 3.0.3 null check), every 4xx problem+json
//     with X-Request-Id;
//   - per case: a header value outside its pattern (a tab, a C1 control character, a value the
//     pattern refuses) is a 400 naming `header.<Name>`; a missing required header is a 400 naming
//     it; an all-optional body may be left out (never "body: is required"); a required body left
//     out, or null, is a 400.
//
// Cases come from the spec's examples and schemas, in a fixed order with a seeded random source,
// so a run is repeatable. Operations that end things (DELETE, logout) run last.
func TestContractGenerated(t *testing.T) {
	t.Parallel()
	env := servertest.New(t)
	doc := servertest.Doc(t)
	f := seedContract(t, env)
	rng := rand.New(rand.NewPCG(16, 18)) //nolint:gosec // deterministic test data, not a secret

	type operation struct {
		method, path string
		op           *openapi3.Operation
		params       openapi3.Parameters
	}
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			params := slices.Clone(item.Parameters)
			params = append(params, op.Parameters...)
			ops = append(ops, operation{method, path, op, params})
		}
	}
	// Order: what ends sessions or deletes fixtures runs last, the owner's own logout at the very end.
	rank := func(o operation) int {
		switch {
		case o.op.OperationID == "logoutAll":
			return 4
		case o.op.OperationID == "logout":
			return 3
		case o.method == http.MethodDelete:
			return 2
		}
		return 1
	}
	slices.SortFunc(ops, func(a, b operation) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a.path+" "+a.method, b.path+" "+b.method)
	})

	total := 0
	statuses := map[int]int{}
	var validRefused []string
	for _, o := range ops {
		t.Run(o.op.OperationID, func(t *testing.T) {
			client := &http.Client{Transport: servertest.NewValidatingTransport(t, http.DefaultTransport)}
			token := f.owner
			if strings.HasPrefix(o.path, "/admin") {
				token = f.admin
			}
			if tok, ok := f.opTokens[o.op.OperationID]; ok {
				token = tok
			}
			path := o.path
			for _, p := range o.params {
				if p.Value.In == openapi3.ParameterInPath {
					id, ok := f.opIds[o.op.OperationID][p.Value.Name]
					if !ok {
						id, ok = f.ids[p.Value.Name]
					}
					if !ok {
						t.Fatalf("no seeded value for path parameter %s", p.Value.Name)
					}
					path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", id)
				}
			}
			var body *openapi3.RequestBody
			var example any
			// A streamed body (a CSV upload) is not JSON: server/imports tests it.
			if o.op.RequestBody != nil && o.op.RequestBody.Value.Content.Get("application/json") != nil {
				body = o.op.RequestBody.Value
				example = f.substitute(exampleOf(body.Content.Get("application/json")))
			}

			// base builds the valid request: required headers valid, the body from the example.
			base := func() contractRequest {
				r := contractRequest{method: o.method, path: path, header: http.Header{}, query: url.Values{}}
				if token != "" && o.op.Security != nil && len(*o.op.Security) > 0 {
					r.header.Set("Authorization", "Bearer "+token)
				}
				for _, p := range o.params {
					if p.Value.In == openapi3.ParameterInHeader && p.Value.Required {
						r.header.Set(p.Value.Name, validHeader(p.Value.Name, rng))
					}
				}
				if body != nil {
					r.body, _ = json.Marshal(example)
					r.header.Set("Content-Type", "application/json")
				}
				return r
			}
			type check func(t *testing.T, status int, prob *api.Problem)
			type contractCase struct {
				name  string
				req   contractRequest
				check check
			}
			var cases []contractCase
			cases = append(cases, contractCase{"valid", base(), nil})

			for _, p := range o.params {
				pv := p.Value
				switch pv.In {
				case openapi3.ParameterInQuery:
					if ex := exampleOfParam(pv); ex != "" {
						r := base()
						r.query.Set(pv.Name, ex)
						cases = append(cases, contractCase{"query " + pv.Name + " example", r, nil})
					}
					for _, bad := range []string{"\x01", "\u0085", "-1", "abc", strings.Repeat("z", 600)} {
						r := base()
						r.query.Set(pv.Name, bad)
						cases = append(cases, contractCase{fmt.Sprintf("query %s=%q", pv.Name, bad), r, nil})
					}
				case openapi3.ParameterInHeader:
					field := "header." + pv.Name
					wantNamed := func(t *testing.T, status int, prob *api.Problem) {
						if status != http.StatusBadRequest || prob == nil || !namesField(*prob, field) {
							t.Errorf("answered %d %s, want 400 naming %s", status, problemText(prob), field)
						}
					}
					valid := validHeader(pv.Name, rng)
					r := base()
					r.header.Set(pv.Name, valid)
					cases = append(cases, contractCase{"header " + pv.Name + " valid", r, nil})
					inner := valid // a value to put a bad character inside (Go trims one at either end)
					if pv.Name == "If-Match" {
						inner = `"1"`
					}
					for _, bad := range []string{
						inner[:len(inner)-1] + "\t" + inner[len(inner)-1:],     // a tab inside: Go's parser keeps it
						inner[:len(inner)-1] + "\u0085" + inner[len(inner)-1:], // a C1 control character (UTF-8)
						"\xff", // not UTF-8
						"not a valid value",
						strings.Repeat("A", 300),
					} {
						r := base()
						r.header.Set(pv.Name, bad)
						cases = append(cases, contractCase{fmt.Sprintf("header %s=%q", pv.Name, bad), r, wantNamed})
					}
					// The operation's own word counts too: `x-idempotency: required` means the key is.
					if pv.Required || (pv.Name == "Idempotency-Key" && o.op.Extensions["x-idempotency"] == "required") {
						r := base()
						r.header.Del(pv.Name)
						cases = append(cases, contractCase{"header " + pv.Name + " missing", r, wantNamed})
					}
				}
			}

			// A streamed body (a CSV upload) in another media type is a 415, after the parameters
			// and headers have been checked (the header cases above send none and still want 400).
			if rb := o.op.RequestBody; rb != nil && body == nil {
				for ct := range rb.Value.Content {
					r := base()
					r.body = []byte(`{"sku":"x"}`)
					r.header.Set("Content-Type", "application/json")
					for _, p := range o.params { // valid parameters, so only the media type is wrong
						if p.Value.In == openapi3.ParameterInQuery && p.Value.Required {
							r.query.Set(p.Value.Name, exampleOfParam(p.Value))
						}
					}
					cases = append(cases, contractCase{"streamed " + ct + " body sent as JSON", r, func(t *testing.T, status int, prob *api.Problem) {
						if status != http.StatusUnsupportedMediaType || problemCode(prob) != string(api.ProblemCodeUnsupportedMediaType) {
							t.Errorf("a %s body sent as application/json answered %d %s, want 415 unsupported_media_type", ct, status, problemText(prob))
						}
					}})
				}
			}

			if body != nil {
				r := base()
				r.body = nil
				r.header.Del("Content-Type")
				// An action (POST) body none of whose members is required is optional whatever
				// `required` says (issue 16 item 17). A PATCH with nothing in it is a 400 by design.
				schema := body.Content.Get("application/json").Schema.Value
				allOptional := o.method == http.MethodPost && len(schema.Required) == 0 && schema.MinProps == 0
				if body.Required && !allOptional {
					cases = append(cases, contractCase{"no body", r, func(t *testing.T, status int, prob *api.Problem) {
						if status != http.StatusBadRequest && status != http.StatusUnauthorized && status != http.StatusForbidden {
							t.Errorf("a required body left out answered %d, want 400", status)
						}
					}})
				} else {
					for _, ct := range []string{"", "application/json"} {
						r := base()
						r.body = nil
						r.header.Del("Content-Type")
						if ct != "" {
							r.header.Set("Content-Type", ct)
						}
						cases = append(cases, contractCase{"no body, Content-Type " + ct, r, func(t *testing.T, status int, prob *api.Problem) {
							if status == http.StatusBadRequest && prob != nil && namesField(*prob, "body") {
								t.Errorf("an optional body left out answered 400 %s", problemText(prob))
							}
						}})
					}
				}
				r = base()
				r.body = []byte("null")
				cases = append(cases, contractCase{"body null", r, func(t *testing.T, status int, _ *api.Problem) {
					if status < 400 {
						t.Errorf("a null body answered %d, want a 4xx", status)
					}
				}})
				if m, ok := example.(map[string]any); ok {
					for _, k := range sortedKeys(m) {
						clone := map[string]any{}
						for kk, vv := range m {
							clone[kk] = vv
						}
						clone[k] = nil
						r := base()
						r.body, _ = json.Marshal(clone)
						cases = append(cases, contractCase{"body " + k + " null", r, nil})
					}
				}
			}

			for _, c := range cases {
				total++
				t.Run(c.name, func(t *testing.T) {
					status, prob := c.req.do(t, client, env.URL, rng)
					statuses[status]++
					if c.name == "valid" && status >= 400 {
						validRefused = append(validRefused, fmt.Sprintf("%s %d %s", o.op.OperationID, status, problemCode(prob)))
					}
					if status >= 500 {
						t.Errorf("%s %s answered %d: %+v", c.req.method, c.req.path, status, prob)
					}
					if c.check != nil {
						c.check(t, status, prob)
					}
				})
			}
		})
	}
	t.Logf("%d operations, %d generated requests; statuses %v", len(ops), total, statuses)
	t.Logf("valid cases refused (their examples do not fit the seeded data): %v", validRefused)
}

func problemText(p *api.Problem) string {
	if p == nil {
		return "(no problem)"
	}
	text := string(p.Code)
	if p.Errors != nil {
		for _, e := range *p.Errors {
			text += fmt.Sprintf(" [%s: %s]", e.Field, e.Message)
		}
	}
	return text
}

func problemCode(p *api.Problem) string {
	if p == nil {
		return ""
	}
	return string(p.Code)
}

type contractRequest struct {
	method, path string
	header       http.Header
	query        url.Values
	body         []byte
}

// do sends the request (a fresh Idempotency-Key each time, so one case never replays another's
// answer) and returns the status and, for a problem, the problem.
func (r contractRequest) do(t *testing.T, client *http.Client, base string, rng *rand.Rand) (int, *api.Problem) {
	t.Helper()
	target := base + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader = http.NoBody
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header.Clone()
	if v := req.Header.Get("Idempotency-Key"); v == "fresh" {
		req.Header.Set("Idempotency-Key", fmt.Sprintf(`"k-%016x"`, rng.Uint64()))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "application/problem+json" {
		return resp.StatusCode, nil
	}
	var p api.Problem
	if err := json.Unmarshal(data, &p); err != nil {
		t.Errorf("problem body %s: %v", data, err)
	}
	return resp.StatusCode, &p
}

// validHeader is a value inside the header parameter's pattern: `*` for If-Match (any version),
// a fresh key for Idempotency-Key.
func validHeader(name string, _ *rand.Rand) string {
	switch name {
	case "If-Match":
		return "*"
	case "Idempotency-Key":
		return "fresh"
	}
	return "x"
}

func exampleOf(media *openapi3.MediaType) any {
	if media == nil {
		return nil
	}
	if media.Example != nil {
		return media.Example
	}
	for _, ex := range media.Examples {
		if ex.Value != nil {
			return ex.Value.Value
		}
	}
	if media.Schema != nil {
		return media.Schema.Value.Example
	}
	return nil
}

func exampleOfParam(p *openapi3.Parameter) string {
	ex := p.Example
	if ex == nil && p.Schema != nil {
		ex = p.Schema.Value.Example
	}
	if ex == nil {
		return ""
	}
	return fmt.Sprint(ex)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// contractFixtures is what the generated requests point at.
type contractFixtures struct {
	owner, admin string
	// ids are the path parameters' values by name; refs replace the examples' ids by field.
	ids  map[string]string
	refs map[string]string
	// opIds and opTokens override ids and the owner's token for one operation, so that one
	// operation's success does not take another's fixture (cancel and confirm, logout and
	// logout-all).
	opIds    map[string]map[string]string
	opTokens map[string]string
}

var uuidText = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// substitute replaces the ids in an example body by the seeded ones of the same field, so that
// valid cases reach the handlers' success paths rather than stopping at a 404.
func (f contractFixtures) substitute(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, item := range v {
			if s, ok := item.(string); ok && uuidText.MatchString(s) {
				if id, ok := f.refs[k]; ok {
					out[k] = id
					continue
				}
			}
			out[k] = f.substitute(item)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = f.substitute(item)
		}
		return out
	}
	return v
}

func seedContract(t *testing.T, env *servertest.Env) contractFixtures {
	t.Helper()
	b := servertest.NewStockBrand(t, env, "contract")
	admin := env.Admin(t)
	p := b.Product(t, "CT-1")
	loc := createLocation(t, env, b.Owner, "CT-A")
	loc2 := createLocation(t, env, b.Owner, "CT-B")
	receive(t, env, b.Owner, p.Id, loc.Id, 1000)
	receive(t, env, b.Owner, p.Id, loc2.Id, 1000)
	order := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 2))
	toCancel := b.MustCreateOrder(t, servertest.OrderLine(p.Id, 1))
	shipped := b.ShippedOrder(t, p.Id, 2)
	ret := b.MustReturn(t, shipped.Id, api.ReturnRequestLine{LineId: shipped.Lines[0].Id, Quantity: 1, Reason: api.ReturnReasonDamaged})
	res := b.MustReserve(t, servertest.HoldLine(p.Id, nil, 1))
	member := env.Member(t, b.Owner, api.InvitationRoleSTAFF)
	inv, err := env.Client.CreateInvitationWithResponse(ctx, b.Brand, api.CreateInvitationJSONRequestBody{
		Email: "invitee@example.com", Role: api.InvitationRoleMANAGER}, b.Auth)
	if err != nil || inv.JSON201 == nil {
		t.Fatalf("invite: %v %d %s", err, inv.StatusCode(), inv.Body)
	}
	// A second session of the owner's, for revokeSession (the owner's own keeps working).
	env.Login(t, string(b.Owner.User.Email), servertest.Password)
	sessions, err := env.Client.ListSessionsWithResponse(ctx, b.Auth)
	if err != nil || sessions.JSON200 == nil {
		t.Fatalf("sessions: %v %d %s", err, sessions.StatusCode(), sessions.Body)
	}
	other := ""
	for _, s := range sessions.JSON200.Items {
		if !s.Current {
			other = s.Id.String()
		}
	}
	if other == "" {
		t.Fatalf("no second session among %+v", sessions.JSON200.Items)
	}
	third := env.Login(t, string(b.Owner.User.Email), servertest.Password)
	key := env.APIKey(t, b.Owner, "inventory:read")
	evs, _ := env.FeedN(t, b.Owner.AccessToken, b.Brand, api.ListEventsParams{}, 1)
	endpoint, delivery := seedWebhook(t, env, b.Owner.AccessToken, b.Brand, "contract")
	// A product with options and a variant, for the variant routes (the createVariant example
	// names Size M and Color Black).
	opts := api.ProductOptions{{Name: "Size", Values: []string{"S", "M"}}, {Name: "Color", Values: []string{"Black", "White"}}}
	parent := b.CreateProduct(t, api.CreateProductRequest{Sku: "CONTRACT-TEE", Name: "tee", PriceAmount: 100, Options: &opts})
	v, err := env.Client.CreateVariantWithResponse(ctx, b.Brand, parent.Id, api.CreateVariantRequest{
		Sku: "CONTRACT-TEE-S", PriceAmount: 100, OptionValues: api.OptionValues{{Name: "Size", Value: "S"}, {Name: "Color", Value: "White"}}}, b.Auth)
	if err != nil || v.JSON201 == nil {
		t.Fatalf("variant: %v %d %s", err, v.StatusCode(), v.Body)
	}
	variantIds := map[string]string{"productId": parent.Id.String(), "variantId": v.JSON201.Id.String()}
	// A product that allows backorders, and an order that waits for it (issue 22): the product,
	// level and order reads and lists show allowBackorder, backordered, quantityBackordered and
	// backorderLocationId.
	yes, active := true, api.Active
	bo := b.CreateProduct(t, api.CreateProductRequest{Sku: "CT-BACKORDER", Name: "backorder", PriceAmount: 100, Status: &active, AllowBackorder: &yes})
	receive(t, env, b.Owner, bo.Id, loc.Id, 1)
	if waiting := b.MustCreateOrder(t, servertest.OrderLine(bo.Id, 3)); !waiting.Backordered || waiting.Lines[0].QuantityBackordered != 2 {
		t.Fatalf("backordered order: %+v", waiting.Lines[0])
	}
	supplier, ordered := seedPurchaseOrder(t, env, b.Owner, p.Id, loc.Id)
	draft, err := env.Client.CreatePurchaseOrderWithResponse(ctx, b.Brand, &api.CreatePurchaseOrderParams{}, api.CreatePurchaseOrderRequest{
		SupplierId: uuid.MustParse(supplier), LocationId: loc.Id, Lines: []api.PurchaseOrderRequestLine{{ProductId: p.Id, Quantity: 3, UnitCost: 10}},
	}, b.Auth)
	if err != nil || draft.JSON201 == nil {
		t.Fatalf("draft PO: %v %s", err, draft.Body)
	}
	imp, err := env.Client.CreateImportWithBodyWithResponse(ctx, b.Brand, &api.CreateImportParams{Kind: api.ImportKindProducts},
		"text/csv", strings.NewReader("sku,name,priceAmount\nCT-IMPORT,Imported,100\n"), b.Auth)
	if err != nil || imp.JSON202 == nil {
		t.Fatalf("import: %v %s", err, imp.Body)
	}
	return contractFixtures{
		owner: b.Owner.AccessToken,
		admin: admin.AccessToken,
		ids: map[string]string{
			"brandId":         b.Brand.String(),
			"productId":       p.Id.String(),
			"locationId":      loc.Id.String(),
			"orderId":         order.Id.String(),
			"reservationId":   res.Id.String(),
			"invitationId":    inv.JSON201.Invitation.Id.String(),
			"userId":          member.User.Id.String(),
			"sessionId":       other,
			"keyId":           key.ApiKey.Id.String(),
			"eventId":         evs[0].ID.String(),
			"endpointId":      endpoint,
			"deliveryId":      delivery,
			"customerId":      order.CustomerId.String(),
			"returnId":        ret.Id.String(),
			"supplierId":      supplier,
			"purchaseOrderId": draft.JSON201.Id.String(),
			"importId":        imp.JSON202.Id.String(),
		},
		opIds: map[string]map[string]string{
			"cancelOrder":                {"orderId": toCancel.Id.String()},
			"listVariants":               variantIds,
			"createVariant":              variantIds,
			"getVariant":                 variantIds,
			"updateVariant":              variantIds,
			"deleteVariant":              variantIds,
			"createReturn":               {"orderId": shipped.Id.String()},
			"createRefund":               {"orderId": shipped.Id.String()},
			"createPurchaseOrderReceipt": {"purchaseOrderId": ordered},
		},
		opTokens: map[string]string{"logout": third.AccessToken},
		refs: map[string]string{
			"productId":      p.Id.String(),
			"locationId":     loc.Id.String(),
			"fromLocationId": loc.Id.String(),
			"toLocationId":   loc2.Id.String(),
			"lineId":         order.Lines[0].Id.String(),
			"reservationId":  res.Id.String(),
			"supplierId":     supplier,
		},
	}
}
