package main

import (
	"context"
	"fmt"
	"net/http"
	"reflect"

	"github.com/google/uuid"
)

// state is what the source database held at the dump, to be found again on the copy.
type state struct {
	email       string
	accessToken string
	brand       uuid.UUID
	products    []string
	levels      map[string]level // by product id
	movements   int
	orderID     string
	orderStatus string
}

type level struct {
	OnHand    int64 `json:"onHand"`
	Reserved  int64 `json:"reserved"`
	Available int64 `json:"available"`
}

type idOnly struct {
	ID string `json:"id"`
}

func populate(ctx context.Context, d *drill, s *server) (*state, error) {
	st := &state{email: "drill-" + uuid.NewString()[:8] + "@example.com", levels: map[string]level{}}
	var reg struct {
		AccessToken string `json:"accessToken"`
		User        struct {
			BrandID uuid.UUID `json:"brandId"`
		} `json:"user"`
	}
	if err := d.call(ctx, s, http.MethodPost, "/auth/register", "", nil, map[string]any{
		"email": st.email, "password": password, "name": "Drill Owner", "brandName": "Backup Drill",
	}, http.StatusCreated, &reg); err != nil {
		return nil, err
	}
	st.accessToken, st.brand = reg.AccessToken, reg.User.BrandID
	b := "/brands/" + st.brand.String()
	tok := st.accessToken

	var loc idOnly
	if err := d.call(ctx, s, http.MethodPost, b+"/locations", tok, nil, map[string]any{"code": "WH-1", "name": "Main"}, http.StatusCreated, &loc); err != nil {
		return nil, err
	}
	for i, sku := range []string{"DRILL-A", "DRILL-B"} {
		var p idOnly
		if err := d.call(ctx, s, http.MethodPost, b+"/products", tok, nil, map[string]any{
			"sku": sku, "name": "Drill " + sku, "priceAmount": 1000 + i, "status": "active",
		}, http.StatusCreated, &p); err != nil {
			return nil, err
		}
		st.products = append(st.products, p.ID)
		if err := d.call(ctx, s, http.MethodPost, b+"/inventory/adjustments", tok, map[string]string{"Idempotency-Key": "receipt-" + sku},
			map[string]any{"kind": "receipt", "reference": "PO-" + sku, "lines": []any{map[string]any{"productId": p.ID, "locationId": loc.ID, "delta": 20}}},
			http.StatusCreated, nil); err != nil {
			return nil, err
		}
	}
	// A live hold on the second product, and an order on the first: confirmed, 1 of 3 shipped.
	if err := d.call(ctx, s, http.MethodPost, b+"/reservations", tok, nil, map[string]any{
		"lines": []any{map[string]any{"productId": st.products[1], "quantity": 4}}, "ttlSeconds": 86400, "reference": "cart-1",
	}, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	var order struct {
		ID    string `json:"id"`
		Lines []struct {
			ID string `json:"id"`
		} `json:"lines"`
	}
	if err := d.call(ctx, s, http.MethodPost, b+"/orders", tok, map[string]string{"Idempotency-Key": "order-1"}, map[string]any{
		"lines":           []any{map[string]any{"productId": st.products[0], "quantity": 3}},
		"customer":        map[string]any{"email": "grace@example.com", "name": "Grace Hopper"},
		"shippingAddress": map[string]any{"line1": "12 Babbage Street", "city": "London", "country": "GB"},
	}, http.StatusCreated, &order); err != nil {
		return nil, err
	}
	st.orderID = order.ID
	if err := d.call(ctx, s, http.MethodPost, b+"/orders/"+order.ID+"/confirm", tok, nil, nil, http.StatusOK, nil); err != nil {
		return nil, err
	}
	if err := d.call(ctx, s, http.MethodPost, b+"/orders/"+order.ID+"/fulfilments", tok, nil, map[string]any{
		"lines": []any{map[string]any{"lineId": order.Lines[0].ID, "quantity": 1}}, "carrier": "Royal Mail", "trackingNumber": "RM1GB",
	}, http.StatusCreated, nil); err != nil {
		return nil, err
	}
	return st, st.read(ctx, d, s)
}

// read records the levels, the ledger's length and the order's status as s serves them.
func (st *state) read(ctx context.Context, d *drill, s *server) error {
	b := "/brands/" + st.brand.String()
	for _, p := range st.products {
		var l level
		if err := d.call(ctx, s, http.MethodGet, b+"/products/"+p+"/inventory", st.accessToken, nil, nil, http.StatusOK, &l); err != nil {
			return err
		}
		st.levels[p] = l
	}
	var mv struct {
		Items []any `json:"items"`
	}
	if err := d.call(ctx, s, http.MethodGet, b+"/inventory/movements?limit=100", st.accessToken, nil, nil, http.StatusOK, &mv); err != nil {
		return err
	}
	st.movements = len(mv.Items)
	var o struct {
		Status string `json:"status"`
	}
	if err := d.call(ctx, s, http.MethodGet, b+"/orders/"+st.orderID, st.accessToken, nil, nil, http.StatusOK, &o); err != nil {
		return err
	}
	st.orderStatus = o.Status
	return nil
}

// check compares the copy s serves with what was dumped, and logs in on it.
func (st *state) check(ctx context.Context, d *drill, s *server) error {
	// The access token issued before the dump: its session is in the dump, the secrets the same.
	got := &state{brand: st.brand, accessToken: st.accessToken, products: st.products, orderID: st.orderID, levels: map[string]level{}}
	if err := got.read(ctx, d, s); err != nil {
		return err
	}
	if !reflect.DeepEqual(got.levels, st.levels) || got.movements != st.movements || got.orderStatus != st.orderStatus {
		return fmt.Errorf("the copy differs: levels %v, %d movements, order %s; the source had %v, %d, %s",
			got.levels, got.movements, got.orderStatus, st.levels, st.movements, st.orderStatus)
	}
	if st.levels[st.products[0]] != (level{OnHand: 19, Reserved: 2, Available: 17}) || st.levels[st.products[1]] != (level{OnHand: 20, Reserved: 4, Available: 16}) {
		return fmt.Errorf("unexpected stock before the dump: %v", st.levels)
	}
	var login struct {
		AccessToken string `json:"accessToken"`
	}
	if err := d.call(ctx, s, http.MethodPost, "/auth/login", "", nil, map[string]any{"email": st.email, "password": password}, http.StatusOK, &login); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	return d.call(ctx, s, http.MethodGet, "/auth/profile", login.AccessToken, nil, nil, http.StatusOK, nil)
}
