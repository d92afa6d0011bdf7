package kit

import (
	"context"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
)

// InBrandRaw runs fn in the transaction InBrand (readOnly: ReadInBrand) would, handing it the
// transaction itself, for statements no query in queries/ makes (a test's own).
func InBrandRaw(ctx context.Context, d *Deps, brand uuid.UUID, readOnly bool, fn func(tx db.DBTX) error) error {
	mode := scopeWrite
	if readOnly {
		mode = scopeRead
	}
	return inBrandTx(ctx, d, brand, mode, fn)
}

// ListInBrandRaw is inBrandTx as ListInBrand runs it.
func ListInBrandRaw(ctx context.Context, d *Deps, brand uuid.UUID, fn func(tx db.DBTX) error) error {
	return inBrandTx(ctx, d, brand, scopeList, fn)
}
