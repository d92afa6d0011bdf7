package inventory

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
	"github.com/ecompointer/ecompointer/gen/stockdb"
)

func TestMergeHoldLines(t *testing.T) {
	t.Parallel()
	p, q := uuid.New(), uuid.New()
	a, b := uuid.New(), uuid.New()
	got := MergeHoldLines([]HoldLine{
		{Index: 0, Product: p, Quantity: 1},
		{Index: 1, Product: q, Location: &a, Quantity: 2},
		{Index: 2, Product: p, Quantity: 3},               // same product, no location: merged into line 0
		{Index: 3, Product: q, Location: &b, Quantity: 4}, // another location: its own line
		{Index: 4, Product: q, Location: &a, Quantity: 5}, // merged into line 1
		{Index: 5, Product: p, Location: &a, Quantity: 6}, // located: not merged with the free line
	})
	want := []struct {
		index int
		qty   int64
	}{{0, 4}, {1, 7}, {3, 4}, {5, 6}}
	if len(got) != len(want) {
		t.Fatalf("%d merged lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Index != w.index || got[i].Quantity != w.qty {
			t.Errorf("line %d = index %d quantity %d, want %d %d", i, got[i].Index, got[i].Quantity, w.index, w.qty)
		}
	}
}

// stockOf is a Stock as Open would have locked it: active products, locations by code, levels.
func stockOf(products []uuid.UUID, locs map[string]uuid.UUID, inactive map[string]bool, available map[Level]int64) *Stock {
	s := &Stock{products: map[uuid.UUID]db.ProductsAvailabilityRow{}, locations: map[uuid.UUID]db.LocationsLockSharedRow{}, levels: map[Level]*stockdb.StockLevel{}}
	for _, p := range products {
		s.products[p] = db.ProductsAvailabilityRow{ID: p, Status: db.ProductStatusActive}
	}
	for code, id := range locs {
		s.locations[id] = db.LocationsLockSharedRow{ID: id, Code: code, Active: !inactive[code]}
	}
	for l, n := range available {
		s.levels[l] = &stockdb.StockLevel{ProductID: l.Product, LocationID: l.Location, OnHand: n + 1, Reserved: 1}
	}
	return s
}

func TestAllocate(t *testing.T) {
	t.Parallel()
	p, q := uuid.New(), uuid.New()
	locs := map[string]uuid.UUID{"A": uuid.New(), "B": uuid.New(), "C": uuid.New(), "D": uuid.New()}
	code := map[uuid.UUID]string{}
	for c, id := range locs {
		code[id] = c
	}
	show := func(allocs [][]Allocation) string {
		var lines []string
		for _, l := range allocs {
			var parts []string
			for _, a := range l {
				parts = append(parts, fmt.Sprintf("%s:%d", code[a.Location], a.Quantity))
			}
			lines = append(lines, strings.Join(parts, ","))
		}
		return strings.Join(lines, " | ")
	}
	at := func(c string) *uuid.UUID { id := locs[c]; return &id }
	avail := map[Level]int64{
		{p, locs["A"]}: 5, {p, locs["B"]}: 5, {p, locs["C"]}: 8, {p, locs["D"]}: 20,
		{q, locs["A"]}: 2,
	}
	for _, c := range []struct {
		name  string
		lines []HoldLine
		want  string
		short []int // indexes of short lines
	}{
		{"most available first (D, inactive, has more)", []HoldLine{{Product: p, Quantity: 3}}, "C:3", nil},
		{"split, most available first, ties by code", []HoldLine{{Product: p, Quantity: 12}}, "C:8,A:4", nil},
		{"all of it", []HoldLine{{Product: p, Quantity: 18}}, "C:8,A:5,B:5", nil},
		{"located line", []HoldLine{{Product: p, Location: at("B"), Quantity: 5}}, "B:5", nil},
		{"located lines go first", []HoldLine{{Index: 0, Product: p, Quantity: 14}, {Index: 1, Product: p, Location: at("C"), Quantity: 8}}, "A:5,B:5 | C:8", []int{0}},
		{"located line short", []HoldLine{{Index: 0, Product: q, Location: at("A"), Quantity: 3}}, "", []int{0}},
		{"every short line listed", []HoldLine{{Index: 0, Product: p, Quantity: 19}, {Index: 1, Product: q, Quantity: 1}, {Index: 2, Product: q, Quantity: 2}}, "", []int{0, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := stockOf([]uuid.UUID{p, q}, locs, map[string]bool{"D": true}, avail)
			allocs, err := s.Allocate(c.lines)
			var is *InsufficientStock
			switch {
			case c.short == nil && err != nil:
				t.Fatalf("Allocate: %v", err)
			case c.short == nil:
				if got := show(allocs); got != c.want {
					t.Errorf("allocations %s, want %s", got, c.want)
				}
			case !errors.As(err, &is):
				t.Fatalf("Allocate = %s, %v; want insufficient stock", show(allocs), err)
			default:
				var got []int
				for _, l := range is.Lines {
					got = append(got, l.Index)
				}
				if fmt.Sprint(got) != fmt.Sprint(c.short) {
					t.Errorf("short lines %v, want %v", got, c.short)
				}
			}
		})
	}

	// A draft product refuses the whole request, whatever the stock.
	s := stockOf([]uuid.UUID{p, q}, locs, nil, avail)
	s.products[q] = db.ProductsAvailabilityRow{ID: q, Status: db.ProductStatusDraft}
	var pu *ProductsUnavailable
	if _, err := s.Allocate([]HoldLine{{Index: 0, Product: p, Quantity: 1}, {Index: 1, Product: q, Quantity: 1}}); !errors.As(err, &pu) || len(pu.Lines) != 1 || pu.Lines[0].Index != 1 {
		t.Errorf("draft product: %v", err)
	}
}
