package respond

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/kit"
	"github.com/ecompointer/ecompointer/server/problem"
)

// TestUnmet: a conditional change that touched no row is refused not_found or precondition_failed;
// any other outcome is left to the handler, unchanged.
func TestUnmet(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		err        error
		wantCode   api.ProblemCode
		wantDetail string
	}{
		{"a row that is gone", kit.Stale(struct{}{}, pgx.ErrNoRows), api.ProblemCodeNotFound, "No such brand."},
		{"a stale version", kit.Stale(struct{}{}, nil), api.ProblemCodePreconditionFailed, "The brand changed since the version If-Match names; read it again."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var refusal *problem.Error
			if err := Unmet(c.err, "No such brand.", "brand"); !errors.As(err, &refusal) {
				t.Fatalf("answered %v, want a refusal", err)
			}
			if refusal.Code != c.wantCode || refusal.Detail != c.wantDetail {
				t.Errorf("refused %s %q, want %s %q", refusal.Code, refusal.Detail, c.wantCode, c.wantDetail)
			}
		})
	}
	boom := errors.New("boom")
	for _, err := range []error{nil, boom, &kit.ConflictError{Constraint: "x"}} {
		if got := Unmet(err, "No such brand.", "brand"); got != err { //nolint:errorlint // the very value
			t.Errorf("%v became %v", err, got)
		}
	}
}

// FuzzIfMatch feeds If-Match parsing any header value: it never panics, "*" and absence mean no
// condition, and every version it returns is one that the header names as exactly the strong tag
// this server issues for it (RFC 9110 §8.8.3.2 strong comparison: `"+5"` or `"05"` is not `"5"`).
func FuzzIfMatch(f *testing.F) {
	for _, seed := range []string{`"1"`, `"1", "2"`, `*`, ` * `, `W/"1"`, `"+1"`, `"01"`, `"-1"`, `""`, `"`, `"9223372036854775807"`, `"9223372036854775808"`, `,,,`, `"1",W/"2", "x"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		versions := IfMatch(&header)
		if strings.TrimSpace(header) == "*" {
			if versions != nil {
				t.Fatalf("%q: want no condition", header)
			}
			return
		}
		if versions == nil {
			t.Fatalf("%q: a header that is not * must be a condition", header)
		}
		tags := strings.Split(header, ",")
		for i := range tags {
			tags[i] = strings.TrimSpace(tags[i])
		}
		for _, v := range versions {
			if !slices.Contains(tags, *ETag(v)) {
				t.Fatalf("%q matched version %d, whose tag is %s", header, v, *ETag(v))
			}
		}
		// What the server issues, listed, parses back to the same versions.
		list := make([]string, len(versions))
		for i, v := range versions {
			list[i] = `"` + strconv.FormatInt(v, 10) + `"`
		}
		joined := strings.Join(list, ", ")
		if len(versions) > 0 && !slices.Equal(IfMatch(&joined), versions) {
			t.Fatalf("%q: round trip of %v gave %v", header, versions, IfMatch(&joined))
		}
	})
}
