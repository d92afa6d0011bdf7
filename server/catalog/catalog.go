// Package catalog is the brands' products. It holds the only code allowed to change the products
// table; inventory and orders read products, and a product that was stocked or ordered cannot be
// deleted (archive it instead).
package catalog

import "github.com/ecompointer/ecompointer/server/kit"

// Handlers implements the catalog operations of api.StrictServerInterface.
type Handlers struct {
	d *kit.Deps
}

// New returns the catalog handlers.
func New(d *kit.Deps) *Handlers {
	return &Handlers{d: d}
}
