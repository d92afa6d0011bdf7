package main

import (
	"strings"
	"testing"
)

// TestBenchUUID: the ids clients compute are those seed/000_bench_uuid.sql gives (its comment's
// examples), and a product's id names its brand's product.
func TestBenchUUID(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		benchUUID(benchKindBrand, 2):                 "00000000-0000-7000-8001-000000000002",
		benchUUID(2, 17):                             "00000000-0000-7000-8002-000000000011",
		benchUUID(benchKindProduct, 281474976710655): "00000000-0000-7000-8003-ffffffffffff",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	f := &Fixture{Brands: 2, Products: 10}
	// Product k of brand b is n = b + k * brands: brand 2's first is 2, its third 6.
	if got, want := f.productID(2, 0), benchUUID(benchKindProduct, 2); got != want {
		t.Errorf("productID(2, 0) = %s, want %s", got, want)
	}
	if got, want := f.productID(2, 2), benchUUID(benchKindProduct, 6); got != want {
		t.Errorf("productID(2, 2) = %s, want %s", got, want)
	}
}

func TestNewFixtureTiesSessionsToBrands(t *testing.T) {
	t.Parallel()
	sessions := []*Session{{BrandID: benchUUID(benchKindBrand, 1)}, {BrandID: benchUUID(benchKindBrand, 2)}}
	f, err := newFixture(nil, sessions, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	if sessions[0].brand != 1 || sessions[1].brand != 2 || f.Brands != 2 || f.Products != 10 {
		t.Errorf("brands %d, %d; fixture %d brands of %d products", sessions[0].brand, sessions[1].brand, f.Brands, f.Products)
	}
	stranger := []*Session{{UserID: "u", BrandID: benchUUID(benchKindBrand, 3)}}
	if _, err := newFixture(nil, stranger, 2, 10); err == nil || !strings.Contains(err.Error(), "not a seeded one") {
		t.Errorf("a session of an unknown brand: %v", err)
	}
}
