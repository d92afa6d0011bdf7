package server

import (
	"context"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ecompointer/ecompointer/gen/db"
)

// inBrand runs fn in one transaction scoped to brandID: row-level security then shows and accepts
// only that brand's rows, whatever the statements themselves filter (they filter by brand_id
// too: the policy is the second line of defence, not the first).
//
// It first takes one of the brand's slots (brandshare.go), so one brand never holds more than its
// share of the pool's connections.
func (s *Server) inBrand(ctx context.Context, brandID uuid.UUID, fn func(q *db.Queries) error) error {
	release, err := s.brands.acquire(ctx, brandID)
	if err != nil {
		return err
	}
	defer release()
	return s.inTx(ctx, func(q *db.Queries) error {
		if err := q.BrandScopeSet(ctx, brandID.String()); err != nil {
			return err
		}
		return fn(q)
	})
}

// etag is a resource version as a strong entity tag (RFC 9110 §8.8.3).
func etag(version int64) *string {
	tag := `"` + strconv.FormatInt(version, 10) + `"`
	return &tag
}

// ifMatch reads an If-Match header (RFC 9110 §13.1.1) as the versions a change may apply to. nil
// means no condition: the header is absent, or `*` (any current version). An empty, non-nil slice
// means a condition nothing can meet (weak or foreign tags never match: If-Match compares
// strongly), so the change answers 412.
func ifMatch(header *string) []int64 {
	if header == nil || strings.TrimSpace(*header) == "*" {
		return nil
	}
	versions := []int64{}
	for _, tag := range strings.Split(*header, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		// Strong comparison is octet equality (RFC 9110 §8.8.3.2): only the tag etag issues for a
		// version matches it, so `"+5"` and `"05"` match nothing.
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && *etag(v) == tag {
			versions = append(versions, v)
		}
	}
	return versions
}

// location is a created resource's URL, for the Location header.
func location(parts ...string) *string {
	loc := strings.Join(parts, "")
	return &loc
}
